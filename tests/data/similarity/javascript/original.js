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

function parseDate(text) {
  const parts = text.split('-');
  if (parts.length !== 3) {
    throw new Error(`bad date: ${text}`);
  }
  const [year, month, day] = parts.map((p) => parseInt(p, 10));
  return year * 10000 + month * 100 + day;
}

function applyTransactions(transactions, opening = {}) {
  const balances = { ...opening };
  const overdrafts = [];
  const ordered = [...transactions].sort(
    (a, b) => parseDate(a.date) - parseDate(b.date) || a.account.localeCompare(b.account),
  );
  for (const item of ordered) {
    const before = balances[item.account] || 0;
    const after = before + item.amount;
    balances[item.account] = after;
    if (after < 0 && item.amount < 0) {
      overdrafts.push(item);
    }
  }
  return { balances, overdrafts };
}

function largestWithdrawals(transactions, count = 3) {
  const withdrawals = transactions.filter((t) => t.amount < 0);
  withdrawals.sort((a, b) => a.amount - b.amount);
  return withdrawals.slice(0, count);
}

function validate(transactions) {
  const problems = [];
  const seen = new Set();
  transactions.forEach((item, index) => {
    const key = [item.date, item.account, item.amount, item.memo].join('|');
    if (seen.has(key)) {
      problems.push(`row ${index + 2}: duplicate of an earlier row`);
    }
    seen.add(key);
    if (!item.account || !item.account.trim()) {
      problems.push(`row ${index + 2}: no account`);
    }
    try {
      parseDate(item.date);
    } catch (error) {
      problems.push(`row ${index + 2}: ${error.message}`);
    }
  });
  return problems;
}

function main(argv) {
  if (argv.length !== 3) {
    console.error('usage: ledger.js FILE');
    return 2;
  }
  const transactions = readTransactions(argv[2]);
  const problems = validate(transactions);
  problems.forEach((problem) => console.error(problem));
  if (problems.length > 0) {
    return 1;
  }
  const { balances, overdrafts } = applyTransactions(transactions);
  printReport(balances, overdrafts);
  for (const item of largestWithdrawals(transactions)) {
    console.log(`  large: ${item.date} ${item.account} ${item.amount}`);
  }
  return 0;
}

if (require.main === module) {
  process.exitCode = main(process.argv);
}


module.exports = { readTransactions, printReport };
