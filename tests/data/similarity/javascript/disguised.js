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

/**
 * Check every row before touching any balance.
 */
function checkRows(entries) {
  const issues = [];
  const already = new Set();
  entries.forEach((entry, n) => {
    // identical rows usually come from a double export
    const sig = [entry.date, entry.account, entry.amount, entry.memo].join(';');
    if (already.has(sig)) { issues.push(`line ${n + 1}: repeated row`); }
    already.add(sig);
    if (!entry.account || !entry.account.trim()) { issues.push(`line ${n + 1}: account missing`); }
    try { toNumber(entry.date); } catch (err) { issues.push(`line ${n + 1}: ${err.message}`); }
  });
  return issues;
}

/** Debits, biggest first. */
function biggestDebits(entries, top = 5) {
  const debits = entries.filter((e) => e.amount < 0);
  debits.sort((x, y) => x.amount - y.amount);
  return debits.slice(0, top);
}

// Turns YYYY-MM-DD into a sortable number.
function toNumber(raw) {
  const pieces = raw.split('-');
  if (pieces.length !== 3) { throw new Error(`date not understood: ${raw}`); }
  const [y, m, d] = pieces.map((x) => parseInt(x, 10));
  return y * 10000 + m * 100 + d;
}

function processAll(entries, startBalances = {}) {
  const books = { ...startBalances };
  const flagged = [];
  const chronological = [...entries].sort(
    (p, q) => toNumber(p.date) - toNumber(q.date) || p.account.localeCompare(q.account),
  );
  for (const entry of chronological) {
    const prior = books[entry.account] || 0;
    const now = prior + entry.amount;
    books[entry.account] = now;
    if (now < 0 && entry.amount < 0) { flagged.push(entry); }  // into the red
  }
  return { balances: books, overdrafts: flagged };
}

function run(args) {
  if (args.length !== 3) {
    console.error('usage: bank.js CSV');
    return 2;
  }
  const entries = readTransactions(args[2]);
  const issues = checkRows(entries);
  issues.forEach((issue) => console.error(issue));
  if (issues.length > 0) { return 1; }
  const { balances, overdrafts } = processAll(entries);
  printReport(balances, overdrafts);
  for (const entry of biggestDebits(entries)) {
    console.log(`  big one: ${entry.date} ${entry.account} ${entry.amount}`);
  }
  return 0;
}

if (require.main === module) {
  process.exitCode = run(process.argv);
}

module.exports = { readTransactions, printReport };
