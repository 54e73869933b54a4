/**
 * Waveform peaks (0..1, any count) to an SVG path of `bars` vertical bars, mirrored around
 * the middle. Pure numbers in, a path string of numbers out: nothing to escape.
 */
export function waveformPath(peaks: readonly number[], bars: number, width: number, height: number): string {
  if (peaks.length === 0 || bars <= 0) return "";
  const step = width / bars;
  const barWidth = Math.max(1, step * 0.6);
  const mid = height / 2;
  const parts: string[] = [];
  for (let i = 0; i < bars; i++) {
    const from = Math.floor((i * peaks.length) / bars);
    const to = Math.max(from + 1, Math.floor(((i + 1) * peaks.length) / bars));
    let peak = 0;
    for (let j = from; j < to && j < peaks.length; j++) peak = Math.max(peak, Math.abs(peaks[j] ?? 0));
    const h = Math.max(1, Math.min(1, peak) * height * 0.95);
    const x = (i * step + (step - barWidth) / 2).toFixed(1);
    parts.push(`M${x} ${(mid - h / 2).toFixed(1)}h${barWidth.toFixed(1)}v${h.toFixed(1)}h-${barWidth.toFixed(1)}z`);
  }
  return parts.join("");
}
