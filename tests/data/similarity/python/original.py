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


def parse_date(text):
    parts = text.split("-")
    if len(parts) != 3:
        raise ValueError(f"bad date: {text}")
    year, month, day = (int(p) for p in parts)
    return (year, month, day)


def apply_transactions(transactions, opening=None):
    balances = dict(opening or {})
    overdrafts = []
    ordered = sorted(transactions, key=lambda t: (parse_date(t.date), t.account))
    for item in ordered:
        before = balances.get(item.account, Decimal("0"))
        after = before + item.amount
        balances[item.account] = after
        if after < 0 and item.amount < 0:
            overdrafts.append(item)
    return balances, overdrafts


def largest_withdrawals(transactions, count=3):
    withdrawals = [t for t in transactions if t.amount < 0]
    withdrawals.sort(key=lambda t: t.amount)
    return withdrawals[:count]


def summarise(balances):
    total = sum(balances.values(), Decimal("0"))
    negative = [name for name, value in balances.items() if value < 0]
    return {"total": total, "negative": negative, "accounts": len(balances)}


def validate(transactions):
    problems = []
    seen = set()
    for index, item in enumerate(transactions):
        key = (item.date, item.account, item.amount, item.memo)
        if key in seen:
            problems.append(f"row {index + 2}: duplicate of an earlier row")
        seen.add(key)
        if not item.account.strip():
            problems.append(f"row {index + 2}: no account")
        try:
            parse_date(item.date)
        except ValueError as error:
            problems.append(f"row {index + 2}: {error}")
    return problems


def main(argv):
    if len(argv) != 2:
        print("usage: ledger.py FILE", file=sys.stderr)
        return 2
    transactions = read_transactions(argv[1])
    problems = validate(transactions)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    balances, overdrafts = apply_transactions(transactions)
    print_report(balances, overdrafts)
    summary = summarise(balances)
    print(f"Total {summary['total']:.2f} over {summary['accounts']} accounts")
    for item in largest_withdrawals(transactions):
        print(f"  large: {item.date} {item.account} {item.amount}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
