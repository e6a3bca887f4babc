"""Chart of accounts: GL accounts, the rules of a chart, CSV exchange, shipped templates."""

from chart_of_accounts.csv_io import chart_to_csv, parse_chart_csv
from chart_of_accounts.model import AccountType, AccountUsage, GLAccount
from chart_of_accounts.templates import TEMPLATES, load_template
from chart_of_accounts.tree import check_chart, parents_first
from chart_of_accounts.view import LoadedChart

__all__ = (
    "TEMPLATES",
    "AccountType",
    "AccountUsage",
    "GLAccount",
    "LoadedChart",
    "chart_to_csv",
    "check_chart",
    "load_template",
    "parents_first",
    "parse_chart_csv",
)
