"""Close of business: the end-of-day run that closes business days in order, step by step."""
