/**
 * Where a JSON text stops being JSON. Bun's JSON.parse reports what went wrong but not
 * where, and every jobfile error must carry a line and column, so this walks the grammar
 * (RFC 8259) just far enough to find the offset of the first offending character.
 */

class Stop {
  constructor(readonly offset: number) {}
}

/** The offset of the first syntax error, or null when `text` is valid JSON. */
export function jsonErrorOffset(text: string): number | null {
  let at = 0;
  const fail = (): never => {
    throw new Stop(at);
  };
  const skipSpace = () => {
    while (at < text.length && " \t\n\r".includes(text.charAt(at))) at++;
  };
  const expect = (word: string) => {
    for (const ch of word) {
      if (text.charAt(at) !== ch) fail();
      at++;
    }
  };
  const string = () => {
    expect('"');
    while (at < text.length) {
      const ch = text.charAt(at);
      if (ch === '"') {
        at++;
        return;
      }
      if (ch < " ") fail();
      if (ch === "\\") {
        at++;
        const escaped = text.charAt(at);
        if (escaped === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(at + 1, at + 5))) fail();
          at += 5;
        } else if (escaped !== "" && '"\\/bfnrt'.includes(escaped)) at++;
        else fail();
      } else at++;
    }
    fail();
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at));
    if (!match || match[0] === "" || match[0] === "-") fail();
    at += (match as RegExpExecArray)[0].length;
  };
  const sequence = (close: string, item: () => void) => {
    at++;
    skipSpace();
    if (text.charAt(at) === close) {
      at++;
      return;
    }
    for (;;) {
      item();
      skipSpace();
      if (text.charAt(at) !== ",") break;
      at++;
    }
    expect(close);
  };
  const value = (depth: number): void => {
    if (depth > 512) fail();
    skipSpace();
    const ch = text.charAt(at);
    if (ch === "{") {
      sequence("}", () => {
        skipSpace();
        string();
        skipSpace();
        expect(":");
        value(depth + 1);
      });
    } else if (ch === "[") sequence("]", () => value(depth + 1));
    else if (ch === '"') string();
    else if (ch === "t") expect("true");
    else if (ch === "f") expect("false");
    else if (ch === "n") expect("null");
    else number();
  };
  try {
    value(0);
    skipSpace();
    if (at < text.length) fail();
    return null;
  } catch (error) {
    if (error instanceof Stop) return error.offset;
    throw error;
  }
}
