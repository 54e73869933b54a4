import type { EntityKind } from "./urls";

/**
 * Iframe heights (px) that fit each card, measured in Chromium at 480 px wide with the fake
 * catalogue (longest case: facts wrapping to a second line). Used by oEmbed and the demo.
 */
export const CARD_HEIGHTS: Record<EntityKind, { standard: number; compact: number }> = {
  track: { standard: 176, compact: 128 },
  artist: { standard: 216, compact: 174 },
  album: { standard: 292, compact: 174 },
  playlist: { standard: 292, compact: 174 },
};
