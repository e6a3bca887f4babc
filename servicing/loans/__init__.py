"""Loans: applications and their decisions (`applications`), money movements posted through the
product's rules (`movements`: disbursement, repayment, reversals, position, statement) and the
portfolio reconciliation (`reconciliation`). The pure calculations live in `products.loans`
(allocation, position, eligibility); this package gathers facts, locks, books and commits."""
