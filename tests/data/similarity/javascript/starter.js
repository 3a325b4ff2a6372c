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

// TODO: apply the transactions and find the overdrafts.

module.exports = { readTransactions, printReport };
