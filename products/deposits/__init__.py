"""Current and savings accounts: product settings (pure)."""
