"""Loan calculations: terms, schedules, TEG. Pure: no I/O, no clock, Decimal only."""

from products.loans.apr import Apr, AprComponent, AprMethod, UsuryCheck, check_usury, compute_apr
from products.loans.errors import TermsError
from products.loans.model import Disbursement, FeeCharge, Instalment, Schedule, ScheduleTotals
from products.loans.schedule import generate_schedule
from products.loans.simulation import USURY_CAP_SFD_ANNUAL_PERCENT, LoanSimulation, simulate_loan
from products.loans.terms import (
    AmortizationMethod,
    DaysInMonth,
    DaysInYear,
    FeeCalculation,
    FeeKind,
    FeeSpec,
    FeeTrigger,
    HolidayRule,
    InterestCalculationPeriod,
    InterestMethod,
    InterestRatePeriod,
    LoanTerms,
    RepaymentFrequencyUnit,
    TrancheSpec,
    Weekday,
)

__all__ = (
    "USURY_CAP_SFD_ANNUAL_PERCENT",
    "AmortizationMethod",
    "Apr",
    "AprComponent",
    "AprMethod",
    "DaysInMonth",
    "DaysInYear",
    "Disbursement",
    "FeeCalculation",
    "FeeCharge",
    "FeeKind",
    "FeeSpec",
    "FeeTrigger",
    "HolidayRule",
    "Instalment",
    "InterestCalculationPeriod",
    "InterestMethod",
    "InterestRatePeriod",
    "LoanSimulation",
    "LoanTerms",
    "RepaymentFrequencyUnit",
    "Schedule",
    "ScheduleTotals",
    "TermsError",
    "TrancheSpec",
    "UsuryCheck",
    "Weekday",
    "check_usury",
    "compute_apr",
    "generate_schedule",
    "simulate_loan",
)
