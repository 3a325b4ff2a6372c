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


from collections import defaultdict
from datetime import date


class Ledger:
    """Keeps running balances and remembers when an account dipped below zero."""

    def __init__(self):
        self.balances = defaultdict(Decimal)
        self.overdrafts = []
        self.history = defaultdict(list)

    def post(self, transaction):
        account = transaction.account
        self.balances[account] += transaction.amount
        self.history[account].append(transaction)
        if self.balances[account] < 0:
            self.overdrafts.append(transaction)

    def post_all(self, transactions):
        for transaction in sorted(transactions, key=when):
            self.post(transaction)
        return self

    def statement(self, account):
        running = Decimal(0)
        lines = []
        for transaction in self.history.get(account, []):
            running += transaction.amount
            lines.append((transaction.date, transaction.amount, running))
        return lines


def when(transaction):
    return date.fromisoformat(transaction.date)


def load(path):
    rows = read_transactions(path)
    bad = [row for row in rows if not row.account]
    if bad:
        raise SystemExit(f"{len(bad)} rows have no account")
    return rows


def cli():
    import argparse

    parser = argparse.ArgumentParser(description="Apply bank transactions.")
    parser.add_argument("csv_file")
    parser.add_argument("--account", help="print this account's statement too")
    args = parser.parse_args()
    ledger = Ledger().post_all(load(args.csv_file))
    print_report(dict(ledger.balances), ledger.overdrafts)
    if args.account:
        for day, amount, balance in ledger.statement(args.account):
            print(day, amount, balance)


if __name__ == "__main__":
    cli()
