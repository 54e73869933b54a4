/**
 * Seeded randomness: the same seed gives the same run. sfc32 (a small, fast generator that
 * passes PractRand) seeded through splitmix32, so nearby seeds give unrelated streams.
 */
export function rng(seed) {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

/** Zipf weights of ranks 0..n-1: 1/(rank+1)^s, unnormalised. */
export const zipfWeights = (n, s) => Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);

/** A sampler of `items` with P(item i) proportional to `weights[i]`. */
export function weighted(items, weights, random) {
  const n = items.length;
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += weights[i];
    cdf[i] = acc;
  }
  for (let i = 0; i < n; i++) cdf[i] /= acc;
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return items[lo];
  };
}

/** A sampler of ranks 0..n-1 with P(rank) proportional to 1/(rank+1)^s. */
export function zipf(n, s, random) {
  return weighted(
    Array.from({ length: n }, (_, i) => i),
    zipfWeights(n, s),
    random,
  );
}

/** Exponential with the given mean. */
export const exponential = (mean, random) => -Math.log(1 - random()) * mean;

/** Log-normal with the given median and sigma (of the underlying normal). */
export function logNormal(median, sigma, random) {
  // Box-Muller: one normal from two uniforms.
  const u = 1 - random();
  const v = random();
  const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return median * Math.exp(sigma * normal);
}
