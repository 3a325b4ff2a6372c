"""Bank ledger: starter code. Implement the functions marked TODO."""

import csv
import sys
from dataclasses import dataclass
from decimal import Decimal


@dataclass
class Transaction:
    date: str
    account: str
    amount: Decimal
    memo: str


def read_transactions(path):
    """Read the CSV file at `path` into Transaction objects."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return [
            Transaction(row["date"], row["account"], Decimal(row["amount"]), row["memo"])
            for row in reader
        ]


def print_report(balances, overdrafts):
    """Print the final balances and the overdrafts."""
    print("Balances")
    for account in sorted(balances):
        print(f"  {account:<12} {balances[account]:>12.2f}")
    print("Overdrafts")
    for item in overdrafts:
        print(f"  {item.date} {item.account} {item.amount} {item.memo}")


# TODO: apply the transactions and find the overdrafts.


if __name__ == "__main__":
    print_report({}, [])
