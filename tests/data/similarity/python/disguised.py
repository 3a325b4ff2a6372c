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


def check_rows(entries):
    """Collect every problem with the input rows before anything is applied."""
    issues = []
    already = set()
    for n, entry in enumerate(entries):
        # Identical rows are most likely an export glitch.
        fingerprint = (entry.date, entry.account,
                       entry.amount, entry.memo)
        if fingerprint in already:
            issues.append(f"line {n + 1}: repeated row")
        already.add(fingerprint)
        if not entry.account.strip():
            issues.append(f"line {n + 1}: account missing")
        try:
            to_ymd(entry.date)
        except ValueError as exc:
            issues.append(f"line {n + 1}: {exc}")
    return issues


def to_ymd(raw):
    """Split an ISO date into a sortable (year, month, day) tuple."""
    pieces = raw.split("-")
    if len(pieces) != 3:
        raise ValueError("date not understood: " + raw)
    y, m, d = (int(x) for x in pieces)
    return (y, m, d)


def totals(accounts):
    """Aggregate figures for the footer of the report."""
    grand = sum(accounts.values(), Decimal("0.00"))
    in_red = [who for who, amt in accounts.items() if amt < 0]
    return {"grand": grand, "in_red": in_red, "n": len(accounts)}


def process(entries, start_balances=None):
    """Run every entry through the books in chronological order."""
    books = dict(start_balances or {})
    flagged = []
    # Sort by date first, then by account so that output is deterministic.
    chronological = sorted(entries, key=lambda e: (to_ymd(e.date), e.account))
    for entry in chronological:
        prior = books.get(entry.account, Decimal("0.00"))
        now = prior + entry.amount
        books[entry.account] = now
        if now < 0 and entry.amount < 0:   # went (further) into the red
            flagged.append(entry)
    return books, flagged


def biggest_debits(entries, top=5):
    """The largest withdrawals, most negative first."""
    debits = [e for e in entries if e.amount < 0]
    debits.sort(key=lambda e: e.amount)
    return debits[:top]


def run(args):
    """Command-line entry point; returns the exit status."""
    if len(args) != 2:
        print("usage: bank.py CSV", file=sys.stderr)
        return 2
    entries = read_transactions(args[1])
    issues = check_rows(entries)
    for issue in issues:
        print(issue, file=sys.stderr)
    if issues:
        return 1
    books, flagged = process(entries)
    print_report(books, flagged)
    agg = totals(books)
    print(f"Total {agg['grand']:.2f} across {agg['n']} accounts")
    for entry in biggest_debits(entries):
        print(f"  big one: {entry.date} {entry.account} {entry.amount}")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv))
