"""The site's inline CSS and script: sortable tables, a text filter, no network, no library.

The script reads nothing from the records (they are in the escaped HTML only): a click on
a header sorts that table's rows by each cell's ``data-v`` (numbers before text, missing
last), again reverses; a filter box hides rows whose text lacks the query; a checkbox
``data-hide-invalid`` hides rows marked ``INVALID``.
"""

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em auto;
max-width:1280px;padding:0 1em;color:#1b1f24;background:#fff}
nav{font-size:13px;margin-bottom:.5em}h1{font-size:1.5em;margin:.2em 0 .6em}
h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #d0d7de}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:13px;width:100%}
th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td[data-v]{font-variant-numeric:tabular-nums}tr:nth-child(even) td{background:#fafbfc}
td.invalid{color:#9a6700;font-weight:600}td.failed{color:#cf222e}td.skipped{color:#6e7781}
code,td.cmd{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:11px}
td.cmd{white-space:nowrap}.wide{overflow-x:auto;max-width:100%}
td.why{font-size:12px;color:#57606a;min-width:14em}td:first-child{min-width:12em}
.verdict-noisy{background:#fff8c5;padding:.4em .6em;border:1px solid #d4a72c}
.verdict-quiet{background:#dafbe1;padding:.4em .6em;border:1px solid #4ac26b}
.note{color:#57606a}.tools{margin:.3em 0}.count{color:#57606a;margin-left:.6em}
figure{display:inline-block;margin:.5em 1em .5em 0;max-width:100%}
figure img{max-width:100%;border:1px solid #d0d7de}figcaption{font-size:12px;color:#57606a}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em;font-size:13px}
dt{font-weight:600}dd{margin:0;word-break:break-word}
"""

SCRIPT = """
(function(){
  function key(td){
    var v = td.getAttribute('data-v');
    if (v === null || v === '') { return td.textContent.trim() === '-' ? null : td.textContent.toLowerCase(); }
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  function compare(x, y){
    if (x === null) { return y === null ? 0 : 1; }
    if (y === null) { return -1; }
    if (typeof x !== typeof y) { return typeof x === 'number' ? -1 : 1; }
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  function sortBy(table, index, th){
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    rows.sort(function(a, b){
      var x = key(a.cells[index]), y = key(b.cells[index]);
      if (x === null || y === null) { return compare(x, y); }
      return asc ? compare(x, y) : compare(y, x);
    });
    rows.forEach(function(r){ body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.cells, function(c){ c.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
  }
  function refresh(table){
    var input = document.querySelector('input.filter[data-table="' + table.id + '"]');
    var box = document.querySelector('input[data-hide-invalid="' + table.id + '"]');
    var q = input ? input.value.toLowerCase() : '';
    var shown = 0, rows = table.tBodies[0].rows;
    Array.prototype.forEach.call(rows, function(r){
      var text = r.textContent.toLowerCase();
      var hide = (q && text.indexOf(q) < 0) || (box && box.checked && text.indexOf('invalid') >= 0);
      r.hidden = !!hide; if (!hide) { shown += 1; }
    });
    var count = document.querySelector('span.count[data-table="' + table.id + '"]');
    if (count) { count.textContent = shown + ' of ' + rows.length + ' rows'; }
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(th, i){
      th.addEventListener('click', function(){ sortBy(table, i, th); });
      th.addEventListener('keydown', function(e){ if (e.key === 'Enter') { sortBy(table, i, th); } });
    });
    refresh(table);
  });
  Array.prototype.forEach.call(document.querySelectorAll('input[data-table], input[data-hide-invalid]'), function(input){
    var id = input.getAttribute('data-table') || input.getAttribute('data-hide-invalid');
    var table = document.getElementById(id);
    if (table) { input.addEventListener('input', function(){ refresh(table); });
                 input.addEventListener('change', function(){ refresh(table); }); }
  });
})();
"""
