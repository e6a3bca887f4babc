"""Reference data services: the institution's currencies, fund sources, payment types,
charges, tax rates, usury caps, calendars, loan classification lists, delinquency grids and
credit parameters; and the defaults `grandlivre demo` seeds."""
