/** The strict parser must reject what it claims to reject, or the metrics test proves nothing. */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { parsePrometheusText, seriesSum, seriesValue } from "./prometheus-parser.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const GOOD = `# HELP q_jobs Jobs by queue and state.
# TYPE q_jobs gauge
q_jobs{queue="default",state="pending"} 3
q_jobs{queue="default",state="dead"} 0
q_jobs{queue="emails",state="pending"} 2
# HELP q_done_total Done.
# TYPE q_done_total counter
q_done_total 7
# HELP q_seconds Durations.
# TYPE q_seconds histogram
q_seconds_bucket{le="0.1"} 1
q_seconds_bucket{le="1"} 2
q_seconds_bucket{le="+Inf"} 3
q_seconds_sum 4.5
q_seconds_count 3
`;

describe("parsePrometheusText", () => {
  test("reads families, labels and values", () => {
    const families = parsePrometheusText(GOOD);
    expect(families.get("q_seconds")?.type).toBe("histogram");
    expect(seriesValue(families, "q_jobs", { queue: "default", state: "pending" })).toBe(3);
    expect(seriesValue(families, "q_jobs", { state: "pending", queue: "emails" })).toBe(2);
    expect(seriesValue(families, "q_seconds_bucket", { le: "+Inf" })).toBe(3);
    expect(() => seriesValue(families, "q_jobs", { state: "nope" })).toThrow("no series");
    // One label alone names no series when the family has two.
    expect(() => seriesValue(families, "q_jobs", { state: "pending" })).toThrow("no series");
  });

  test("sums series over the labels left out, as PromQL's sum() does", () => {
    const families = parsePrometheusText(GOOD);
    expect(seriesSum(families, "q_jobs", { state: "pending" })).toBe(5);
    expect(seriesSum(families, "q_jobs", { queue: "default" })).toBe(3);
    expect(seriesSum(families, "q_jobs")).toBe(5);
    expect(() => seriesSum(families, "q_jobs", { queue: "nope" })).toThrow("no series");
  });

  test("reads escaped label values", () => {
    const text = '# HELP a A.\n# TYPE a gauge\na{path="x\\\\y\\"z\\n"} 1\n';
    const sample = parsePrometheusText(text).get("a")?.samples[0];
    expect(sample?.labels.path).toBe('x\\y"z\n');
  });

  const broken: [string, string, RegExp][] = [
    ["no trailing newline", GOOD.trimEnd(), /end with a newline/],
    ["a blank line", GOOD.replace("q_done_total 7\n", "q_done_total 7\n\n"), /blank line/],
    ["a sample with no TYPE", `${GOOD}q_other 1\n`, /undeclared family/],
    ["a TYPE with no HELP", "# TYPE a gauge\na 1\n", /no HELP/],
    ["a TYPE after its samples", `${GOOD}# TYPE q_jobs gauge\n`, /after samples|second TYPE/],
    [
      "a second TYPE",
      GOOD.replace("# TYPE q_jobs gauge\n", "# TYPE q_jobs gauge\n# TYPE q_jobs gauge\n"),
      /second TYPE/,
    ],
    ["an unknown type", GOOD.replace("q_jobs gauge", "q_jobs meter"), /unknown type/],
    ["interleaved families", `${GOOD}q_jobs{queue="default",state="failed"} 1\n`, /not contiguous/],
    [
      "a duplicate series",
      GOOD.replace('q_jobs{queue="default",state="dead"}', 'q_jobs{queue="default",state="pending"}'),
      /duplicate series/,
    ],
    [
      "a duplicate series with its labels in another order",
      GOOD.replace('q_jobs{queue="default",state="dead"}', 'q_jobs{state="pending",queue="default"}'),
      /duplicate series/,
    ],
    [
      "a total mixed with per-queue series",
      GOOD.replace('q_jobs{queue="emails",state="pending"} 2', 'q_jobs{state="pending"} 5'),
      /inconsistent labels/,
    ],
    ["a bad value", GOOD.replace("q_done_total 7", "q_done_total seven"), /bad value/],
    ["a negative counter", GOOD.replace("q_done_total 7", "q_done_total -1"), /counter must be/],
    ["junk", `${GOOD}this is not a sample\n`, /expected "name\{labels\} value"/],
    ["an unquoted label", GOOD.replace('state="dead"', "state=dead"), /expected =/],
    ["a bad escape in a label value", GOOD.replace('queue="emails"', 'queue="e\\mails"'), /bad escape/],
    ["non-cumulative buckets", GOOD.replace('le="1"} 2', 'le="1"} 0'), /not cumulative/],
    ["unsorted le", GOOD.replace('le="1"}', 'le="0.05"}'), /is not above/],
    ["+Inf ≠ _count", GOOD.replace("q_seconds_count 3", "q_seconds_count 4"), /≠ _count/],
    ["no +Inf bucket", GOOD.replace('q_seconds_bucket{le="+Inf"} 3\n', ""), /le="\+Inf"/],
    ["no _sum", GOOD.replace("q_seconds_sum 4.5\n", ""), /_sum and _count/],
  ];
  for (const [name, text, message] of broken) {
    test(`rejects ${name}`, () => {
      expect(() => parsePrometheusText(text)).toThrow(message);
    });
  }
});
