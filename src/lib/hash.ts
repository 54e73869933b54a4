/** SHA-256 of a UTF-8 string, base64-encoded: the form CSP hash sources use. */
export async function sha256Base64(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}
