/**
 * JSON.parse keeps the last of two equal keys without a word, so `{"id":"a","id":"b"}`
 * would quietly enqueue job b. This linear scan finds the first repeated key so the input
 * can be refused instead, as YAML input already is.
 */
export function findDuplicateJsonKey(text: string): string | undefined {
  const keyStack: Set<string>[] = [];
  const isObject: boolean[] = [];
  let expectingKey = false;
  let index = 0;
  while (index < text.length) {
    const ch = text[index];
    if (ch === '"') {
      const end = stringEnd(text, index);
      if (expectingKey && isObject[isObject.length - 1]) {
        const key = JSON.parse(text.slice(index, end + 1)) as string;
        const keys = keyStack[keyStack.length - 1];
        if (keys?.has(key)) return key;
        keys?.add(key);
        expectingKey = false;
      }
      index = end + 1;
      continue;
    }
    if (ch === "{") {
      keyStack.push(new Set());
      isObject.push(true);
      expectingKey = true;
    } else if (ch === "[") {
      keyStack.push(new Set());
      isObject.push(false);
    } else if (ch === "}" || ch === "]") {
      keyStack.pop();
      isObject.pop();
    } else if (ch === ",") {
      expectingKey = isObject[isObject.length - 1] === true;
    }
    index++;
  }
  return undefined;
}

/** Index of the closing quote of the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let index = start + 1;
  while (index < text.length) {
    const ch = text[index];
    if (ch === "\\") index += 2;
    else if (ch === '"') return index;
    else index++;
  }
  return text.length - 1;
}
