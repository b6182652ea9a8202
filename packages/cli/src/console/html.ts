/** The console's HTML: escaping, the page frame, numbers for people, and charts drawn as inline SVG. */

/** Escapes text for HTML content and quoted attributes. */
export function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A trusted fragment: markup built by this module's functions, never from input. */
export interface Html {
  readonly html: string;
}

/** Tagged template that escapes every interpolated value unless it is an `Html` fragment (or a list of them). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return { html: out };
}

function render(value: unknown): string {
  if (Array.isArray(value)) return value.map(render).join('');
  if (value && typeof value === 'object' && 'html' in value) return (value as Html).html;
  if (value === undefined || value === null || value === false) return '';
  return esc(value);
}

export const NAV = [
  ['/', 'Overview'],
  ['/tenants', 'Tenants'],
  ['/migrations', 'Migrations'],
  ['/top', 'Top tenants'],
  ['/health', 'Health'],
] as const;

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,sans-serif;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header a{color:#c9d3e6;text-decoration:none}header a.on{color:#fff;font-weight:600}header .db{margin-left:auto;color:#8f9bb3}
main{padding:20px 24px;max-width:1200px}h1{font-size:20px;margin:0 0 14px}h2{font-size:16px;margin:22px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e4e7ec}
th{background:#eef1f5;font-weight:600}th a{color:inherit}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{padding:1px 8px;border-radius:10px;font-size:12px;background:#e4e7ec}.ok,.active{background:#d7f5df}
.warn,.onboarding{background:#fff1c2}.fail,.suspended{background:#ffd9d6}form.inline{display:inline}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;padding:12px 16px;border:1px solid #e4e7ec;min-width:150px}
.card b{display:block;font-size:22px}.muted{color:#6b7488}.pager{margin:10px 0;display:flex;gap:12px;align-items:center}
input,select,button{font:inherit;padding:4px 8px}button{cursor:pointer}.hint{color:#6b7488;font-size:12px}
pre{white-space:pre-wrap;background:#fff;border:1px solid #e4e7ec;padding:8px}`;

/** The page frame: title, navigation (the current section marked), the database it looks at, the body. */
export function page(title: string, path: string, target: string, body: Html): string {
  const nav = NAV.map(([href, label]) => {
    const on = href === '/' ? path === '/' : path.startsWith(href);
    return html`<a href="${href}" class="${on ? 'on' : ''}">${label}</a>`;
  });
  return `<!doctype html>${
    html`<html lang="en"><head><meta charset="utf-8"><title>${title} · cgk console</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${{ html: STYLE }}</style></head>
<body><header><strong>cgk console</strong>${nav}<span class="db">${target}</span></header>
<main><h1>${title}</h1>${body}</main></body></html>`.html
  }`;
}

/** 1536 → "1.5 KiB". */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** 1234567 → "1,234,567". */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** "2026-12-06 20:48" in UTC. */
export function when(date: Date): string {
  return date.toISOString().slice(0, 16).replace('T', ' ');
}

/** Horizontal bars, one per item, labelled, scaled to the largest value. */
export function barChart(items: { label: string; value: number; text: string }[], title: string): Html {
  if (items.length === 0) return html`<p class="muted">Nothing to chart yet.</p>`;
  const max = Math.max(...items.map((i) => i.value), 1);
  const rowHeight = 22;
  const height = items.length * rowHeight + 8;
  const bars = items.map((item, i) => {
    const y = 4 + i * rowHeight;
    const width = Math.max(1, Math.round((item.value / max) * 520));
    return html`<text x="0" y="${y + 15}" font-size="12">${item.label}</text>
<rect x="170" y="${y + 3}" width="${width}" height="${rowHeight - 8}" fill="#4c6ef5"></rect>
<text x="${176 + width}" y="${y + 15}" font-size="12" fill="#45506a">${item.text}</text>`;
  });
  return html`<svg role="img" aria-label="${title}" width="800" height="${height}" viewBox="0 0 800 ${height}">${bars}</svg>`;
}

/** A line over time: points of (time, value), the value axis from 0 to the largest value. */
export function lineChart(points: { at: Date; value: number }[], title: string, unit: string): Html {
  if (points.length < 2)
    return html`<p class="muted">Activity is sampled every minute while the console runs: the chart
  appears after the second sample.</p>`;
  const width = 800;
  const height = 180;
  const t0 = points[0]!.at.getTime();
  const span = Math.max(1, points[points.length - 1]!.at.getTime() - t0);
  const max = Math.max(...points.map((p) => p.value), 1);
  const xy = points.map((p) => {
    const x = 40 + ((p.at.getTime() - t0) / span) * (width - 60);
    const y = height - 20 - (p.value / max) * (height - 40);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  return html`<svg role="img" aria-label="${title}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<line x1="40" y1="${height - 20}" x2="${width - 20}" y2="${height - 20}" stroke="#c3c9d5"></line>
<text x="0" y="20" font-size="11" fill="#6b7488">${count(max)}</text>
<text x="0" y="${height - 22}" font-size="11" fill="#6b7488">0</text>
<polyline fill="none" stroke="#4c6ef5" stroke-width="2" points="${xy.join(' ')}"></polyline>
<text x="40" y="${height - 4}" font-size="11" fill="#6b7488">${when(points[0]!.at)}</text>
<text x="${width - 200}" y="${height - 4}" font-size="11" fill="#6b7488">
${when(points[points.length - 1]!.at)} (${unit})</text></svg>`;
}
