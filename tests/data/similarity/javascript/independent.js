// Bank ledger: starter code. Implement the functions marked TODO.
'use strict';

const fs = require('fs');

function readTransactions(path) {
  const [header, ...rows] = fs.readFileSync(path, 'utf8').trim().split('\n');
  const names = header.split(',');
  return rows.map((row) => {
    const cells = row.split(',');
    const record = Object.fromEntries(names.map((name, i) => [name, cells[i]]));
    record.amount = Number(record.amount);
    return record;
  });
}

function printReport(balances, overdrafts) {
  console.log('Balances');
  for (const account of Object.keys(balances).sort()) {
    console.log(`  ${account.padEnd(12)} ${balances[account].toFixed(2).padStart(12)}`);
  }
  console.log('Overdrafts');
  for (const item of overdrafts) {
    console.log(`  ${item.date} ${item.account} ${item.amount} ${item.memo}`);
  }
}

class Ledger {
  constructor() {
    this.balances = new Map();
    this.overdrafts = [];
  }

  post(transaction) {
    const current = this.balances.get(transaction.account) ?? 0;
    const updated = current + transaction.amount;
    this.balances.set(transaction.account, updated);
    if (updated < 0) this.overdrafts.push(transaction);
  }

  postAll(transactions) {
    const byDate = transactions.slice().sort((a, b) => new Date(a.date) - new Date(b.date));
    byDate.forEach((t) => this.post(t));
    return this;
  }

  toObject() {
    const out = {};
    for (const [account, balance] of this.balances) out[account] = balance;
    return out;
  }
}

function load(path) {
  const rows = readTransactions(path);
  const missing = rows.filter((row) => !row.account);
  if (missing.length) {
    throw new Error(`${missing.length} rows have no account`);
  }
  return rows;
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('Pass the CSV file to read.');
    process.exit(2);
  }
  const ledger = new Ledger().postAll(load(file));
  printReport(ledger.toObject(), ledger.overdrafts);
}


module.exports = { readTransactions, printReport };
