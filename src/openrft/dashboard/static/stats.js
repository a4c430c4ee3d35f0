// Is a difference between two runs real? Paired statistics over items, as `openrft eval --compare`
// computes them (openrft.evals.paired_difference): a bootstrap BCa interval of the mean per-item
// difference from a seeded generator, and two-sided Wilcoxon signed-rank and exact sign tests.
// The resamples differ from scipy's, so an interval can differ from the CLI's in its second or
// third decimal; the p-values are the same.

export const CONFIDENCE = 0.95;
const RESAMPLES = 9999;

// mulberry32: a small seeded generator, so the same runs always give the same interval.
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The standard normal CDF (Abramowitz–Stegun 7.1.26 for erf, error below 1.5e-7).
export function normalCdf(z) {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

// Its inverse (Acklam's rational approximation, relative error below 1.2e-9).
export function normalQuantile(p) {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const tail = (q) => (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// As the CLI prints p-values: three decimals, or one significant digit below 0.001.
export function formatP(p) {
  if (typeof p !== "number") return "—";
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(0).replace("e-", "e-0").replace(/e-0(\d\d)/, "e-$1");
}

const mean = (v) => v.reduce((s, x) => s + x, 0) / v.length;

function quantile(sorted, p) {
  const at = Math.min(Math.max(p, 0), 1) * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

// BCa interval of the mean of `deltas` (percentile where the correction is undefined).
export function bootstrapInterval(deltas, { confidence = CONFIDENCE, resamples = RESAMPLES, seed = 0 } = {}) {
  const n = deltas.length;
  const theta = mean(deltas);
  if (deltas.every((d) => d === deltas[0])) return [theta, theta];
  const random = generator(seed);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += deltas[Math.floor(random() * n)];
    means[r] = sum / n;
  }
  means.sort();
  const below = means.filter((m) => m < theta).length;
  const equal = means.filter((m) => m === theta).length;
  const z0 = normalQuantile((below + equal / 2) / resamples);
  const jack = deltas.map((d) => (n * theta - d) / (n - 1));
  const jackMean = mean(jack);
  const num = jack.reduce((s, j) => s + (jackMean - j) ** 3, 0);
  const den = 6 * jack.reduce((s, j) => s + (jackMean - j) ** 2, 0) ** 1.5;
  const accel = den ? num / den : 0;
  const alpha = (1 - confidence) / 2;
  const adjusted = (z) => normalCdf(z0 + (z0 + z) / (1 - accel * (z0 + z)));
  let [lo, hi] = [adjusted(normalQuantile(alpha)), adjusted(normalQuantile(1 - alpha))];
  if (!Number.isFinite(z0) || Number.isNaN(lo) || Number.isNaN(hi)) [lo, hi] = [alpha, 1 - alpha];
  return [quantile(means, lo), quantile(means, hi)];
}

// Two-sided exact binomial test of wins against losses (ties left out).
export function signTestP(deltas, tolerance = 0) {
  const wins = deltas.filter((d) => d > tolerance).length;
  const losses = deltas.filter((d) => d < -tolerance).length;
  const n = wins + losses;
  if (!n) return 1;
  const k = Math.min(wins, losses);
  let logChoose = 0;
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logChoose += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logChoose - n * Math.LN2);
  }
  return Math.min(1, 2 * tail);
}

// Average ranks of |d| (ties share their mean rank) and the tie counts.
function signedRanks(nonzero) {
  const n = nonzero.length;
  const order = nonzero.map((d, i) => [Math.abs(d), i]).sort((x, y) => x[0] - y[0]);
  const ranks = new Array(n);
  const ties = [];
  for (let start = 0; start < n; ) {
    let end = start;
    while (end + 1 < n && order[end + 1][0] === order[start][0]) end++;
    ties.push(end - start + 1);
    for (let k = start; k <= end; k++) ranks[order[k][1]] = (start + end) / 2 + 1;
    start = end + 1;
  }
  return { ranks, ties };
}

// The exact null distribution of W+ for ranks 1..n without ties: counts of each rank sum.
function exactCounts(n) {
  let counts = [1];
  for (let r = 1; r <= n; r++) {
    const next = new Array(counts.length + r).fill(0);
    counts.forEach((c, s) => {
      next[s] += c;
      next[s + r] += c;
    });
    counts = next;
  }
  return counts;
}

// Two-sided Wilcoxon signed-rank test (zeros dropped), chosen as scipy's method="auto" does: the
// exact distribution for up to 50 items without ties or zeros; with ties or zeros, every sign
// flip for up to 13 items; otherwise the normal approximation with the tie correction.
export function wilcoxonP(deltas) {
  const nonzero = deltas.filter((d) => d !== 0);
  const n = nonzero.length;
  if (!n) return 1;
  const { ranks, ties } = signedRanks(nonzero);
  const plus = nonzero.reduce((s, d, i) => s + (d > 0 ? ranks[i] : 0), 0);
  const tied = ties.some((t) => t > 1) || n < deltas.length;
  if (deltas.length <= 50 && !tied) {
    const counts = exactCounts(n);
    const total = 2 ** n;
    const cdf = counts.slice(0, Math.ceil(plus) + 1).reduce((a, b) => a + b, 0) / total;
    const sf = counts.slice(Math.floor(plus)).reduce((a, b) => a + b, 0) / total;
    return Math.min(1, 2 * Math.min(cdf, sf));
  }
  if (deltas.length <= 13) {
    let low = 0;
    let high = 0;
    const eps = 1e-9 * Math.max(1, plus);
    for (let mask = 0; mask < 2 ** n; mask++) {
      let w = 0;
      for (let i = 0; i < n; i++) if (mask & (1 << i)) w += ranks[i];
      if (w <= plus + eps) low++;
      if (w >= plus - eps) high++;
    }
    return Math.min(1, (2 * Math.min(low, high)) / 2 ** n);
  }
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - ties.reduce((s, t) => s + t ** 3 - t, 0) / 48;
  if (variance <= 0) return 1;
  const z = (plus - (n * (n + 1)) / 4) / Math.sqrt(variance);
  return 2 * (1 - normalCdf(Math.abs(z)));
}

// The per-item difference `other − base`, its interval, p-values and the verdict in words.
export function pairedDifference(base, other, { tolerance = 0, confidence = CONFIDENCE } = {}) {
  const deltas = base.map((b, i) => Math.round((other[i] - b) * 1e12) / 1e12);
  const n = deltas.length;
  if (!n) return null;
  const out = { items: n, meanDelta: mean(deltas), confidence, signP: signTestP(deltas, tolerance) };
  if (n < 2) return { ...out, ciLow: null, ciHigh: null, includesZero: null, wilcoxonP: null, significant: false, verdict: "too few items to tell" };
  const [ciLow, ciHigh] = bootstrapInterval(deltas, { confidence });
  const includesZero = ciLow <= 0 && 0 <= ciHigh;
  const p = wilcoxonP(deltas);
  const significant = !includesZero && p < 1 - confidence;
  const share = `${Math.round(confidence * 100)}%`;
  let verdict;
  if (ciLow === 0 && ciHigh === 0) verdict = "no item scored differently";
  else if (includesZero) verdict = `the ${share} interval includes 0: the difference may be noise`;
  else if (!significant) verdict = `the ${share} interval excludes 0 but the signed-rank test does not confirm it (p ${formatP(p)}): too few items to be sure`;
  else verdict = `the ${share} interval excludes 0: ${ciLow > 0 ? "a gain" : "a loss"} beyond noise`;
  return { ...out, ciLow, ciHigh, includesZero, wilcoxonP: p, significant, verdict };
}
