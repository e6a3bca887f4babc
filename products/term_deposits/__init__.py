"""Term deposits: product settings, rate charts and incentives (pure)."""
