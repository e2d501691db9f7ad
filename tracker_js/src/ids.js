// Event and page-view ids: 20 base-32 chars ([0-9a-v]) from crypto.getRandomValues, 100 random
// bits; a subset of the contract's [A-Za-z0-9_-]{8,64}.
export const ID_CHARS = 20;

export function makeId(crypto) {
  let id = '';
  for (const b of crypto.getRandomValues(new Uint8Array(ID_CHARS))) id += (b & 31).toString(32);
  return id;
}
