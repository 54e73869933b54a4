import { describe, expect, it } from "vitest";
import { renew } from "../../src/budget/grants";
import { type Heard, LeaseGate } from "../../src/budget/lease-gate";
import { emptyLedger, type LeaseAsk, type LeaseGrant } from "../../src/budget/ledger";
import { Quota } from "../../src/budget/quota";

// docs/caching.md ("A location's turn to ask"): an isolate with no live lease asks its
// location's gate before the keeper; one asks at a time, a refusal is passed on until its
// retry time, a grant lets the next one ask.
const LEASE = 30_000;

const refused = (retryAt: number, more: Partial<Heard> = {}): Heard => ({
  kind: "refused",
  retryAt,
  newcomerRoom: 0,
  newcomerAt: 0,
  isolates: 40,
  pausedUntil: 0,
  ...more,
});

/** Whether `p` has settled once pending callbacks have run. */
async function settled<T>(p: Promise<T>): Promise<{ value: T } | undefined> {
  let out: { value: T } | undefined;
  void p.then((value) => {
    out = { value };
  });
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return out;
}

describe("a location's lease gate", () => {
  it("lets one isolate ask at a time and passes a refusal on to those waiting and to later ones until its retry time", async () => {
    const gate = new LeaseGate();
    expect(await gate.turn("a", false, 0)).toEqual({ kind: "ask", peers: 1 });
    const b = gate.turn("b", false, 1, () => 3);
    const c = gate.turn("c", false, 2, () => 3);
    expect(await settled(b), "b waits while a asks").toBeUndefined();
    gate.told(refused(20_000));
    expect(await b).toEqual({ kind: "heard", heard: refused(20_000) });
    expect(await c).toEqual({ kind: "heard", heard: refused(20_000) });
    expect(await gate.turn("d", false, 19_999), "before the retry time: no wait, no ask").toEqual({
      kind: "heard",
      heard: refused(20_000),
    });
    expect(await gate.turn("e", false, 20_000)).toEqual({ kind: "ask", peers: 5 });
  });

  it("after a grant, lets the next waiter ask for its own lease, and only that one", async () => {
    const gate = new LeaseGate();
    const clock = () => 3;
    await gate.turn("a", false, 0);
    const b = gate.turn("b", false, 1, clock);
    const c = gate.turn("c", false, 2, clock);
    gate.told({ ...refused(0), kind: "granted" });
    const first = await Promise.race([b, c]);
    expect(first.kind).toBe("ask");
    const other = first === (await settled(b))?.value ? c : b;
    expect(await settled(other), "the third waits for the second's answer").toBeUndefined();
    gate.told(refused(9_000));
    expect(await other).toMatchObject({ kind: "heard" });
  });

  it("lets a newcomer ask past a refusal while the keeper said room is left, from its appointment on", async () => {
    const gate = new LeaseGate();
    await gate.turn("a", false, 0);
    gate.told(refused(20_000, { newcomerRoom: 3, newcomerAt: 500 }));
    expect(await gate.turn("b", true, 499), "before the appointment").toMatchObject({ kind: "heard" });
    expect(await gate.turn("b", false, 600), "not a newcomer").toMatchObject({ kind: "heard" });
    expect(await gate.turn("b", true, 600)).toMatchObject({ kind: "ask" });
    gate.told(refused(20_000, { newcomerRoom: 0 }));
    expect(await gate.turn("c", true, 700), "no room left").toMatchObject({ kind: "heard" });
  });

  it("passes on that the keeper could not be reached, to newcomers too", async () => {
    const gate = new LeaseGate();
    await gate.turn("a", false, 0);
    gate.told({ ...refused(5_000), kind: "failed", newcomerRoom: 0 });
    expect(await gate.turn("b", true, 10)).toMatchObject({ kind: "heard", heard: { kind: "failed" } });
    expect(await gate.turn("b", true, 5_000)).toMatchObject({ kind: "ask" });
  });

  it("lets a waiter ask once the asker's turn has run out without a word (its isolate died)", async () => {
    const gate = new LeaseGate(20);
    let t = 0;
    await gate.turn("a", false, t);
    const b = gate.turn("b", false, t, () => t);
    t = 25;
    expect(await b).toEqual({ kind: "ask", peers: 2 });
  });

  it("counts the isolates that asked here within the last lease", async () => {
    const gate = new LeaseGate();
    for (const [i, id] of ["a", "b", "a"].entries()) {
      await gate.turn(id, false, i);
      gate.told({ ...refused(0), kind: "granted" });
    }
    expect(await gate.turn("c", false, LEASE + 1), "b asked a lease ago").toEqual({ kind: "ask", peers: 2 });
  });
});

describe("the keeper's answers that the gate passes on (ledger, quota)", () => {
  const ask = (isolate: string, want: number, more: Partial<LeaseAsk> = {}): LeaseAsk => ({
    isolate,
    location: "here",
    spent: 0,
    spentAt: [],
    want: { viewer: want, refresh: 0, scheduled: 0 },
    ...more,
  });

  it("a grant that takes the last leasable permit says not to ask again before one frees", () => {
    const l = emptyLedger();
    // A budget of 30: leases may hold 24 (the new visitors' 6 stay at the keeper), 7 at most each.
    const grants = ["a", "b", "c", "d"].map((id) => renew(l, ask(id, 6), 0, 30));
    expect(grants.map((g) => g.granted.viewer)).toEqual([6, 6, 6, 6]);
    expect(grants.slice(0, 3).map((g) => g.retryAt)).toEqual([0, 0, 0]);
    expect(grants[3]?.retryAt, "the last one: nothing is spent, so a lease from now").toBe(LEASE);
  });

  it("gives each refused location one appointment for its newcomers, 10 ms after the last location's, while room is left", () => {
    const l = emptyLedger();
    for (const id of ["a", "b", "c", "d"]) renew(l, ask(id, 6), 0, 30);
    const refusals = Array.from({ length: 300 }, (_, i) =>
      renew(l, ask(`r${i}`, 1, { location: `dc${i}` }), 1_000, 30),
    );
    expect(refusals.every((g) => g.newcomerRoom === 6)).toBe(true);
    const at = refusals.map((g) => g.newcomerAt);
    expect(at[0]).toBe(1_000);
    expect(at.at(-1), "300 locations at 100 a second").toBe(1_000 + 299 * 10);
    // Isolates of a location already given one share it: a deployment in one place is not held back.
    expect(renew(l, ask("s", 1, { location: "dc0" }), 1_500, 30).newcomerAt).toBe(1_000);
    expect(renew(l, ask("t", 1, { location: "dc299" }), 1_500, 30).newcomerAt).toBe(1_000 + 299 * 10);
    expect(renew(emptyLedger(), ask("x", 1), 5_000, 30).newcomerAt, "granted: no appointment").toBe(5_000);
  });

  it("counts the isolates behind each location's gate, where they outnumber those that asked", () => {
    const l = emptyLedger();
    renew(l, ask("a", 1, { peers: 4 }), 0, 100);
    renew(l, ask("b", 1, { location: "there", peers: 3 }), 0, 100);
    expect(renew(l, ask("c", 1), 10, 100).isolates).toBe(7);
    expect(renew(l, ask("c", 1), LEASE + 1, 100).isolates, "the gates' counts are a lease old").toBe(1);
  });

  it("an isolate takes what another was told as its own refusal, and says what it was told itself", () => {
    const grant = (more: Partial<LeaseGrant>): LeaseGrant => ({
      chain: "c",
      granted: { viewer: 2, refresh: 0, scheduled: 0 },
      expires: LEASE,
      retryAt: 0,
      pausedUntil: 0,
      newcomerRoom: 5,
      newcomerAt: 0,
      isolates: 9,
      ...more,
    });
    const q = new Quota();
    q.heard(refused(20_000, { newcomerRoom: 2, newcomerAt: 3_000 }));
    expect(q.take("viewer", 1_000)).toMatchObject({ ok: false, reason: "budget", retryAt: 20_000 });
    expect([q.isolates, q.mayAskForNewcomer(2_999), q.mayAskForNewcomer(3_000)]).toEqual([40, false, true]);
    expect(q.hasLease(1_000)).toBe(false);

    const granted = new Quota();
    granted.apply(grant({}), 0);
    expect(granted.told(10).kind).toBe("granted");
    expect(granted.hasLease(LEASE - 1)).toBe(true);
    const spent = new Quota();
    spent.apply(grant({ retryAt: 8_000 }), 0);
    expect(spent.told(10), "given a few, but nothing more before 8 s").toMatchObject({
      kind: "refused",
      retryAt: 8_000,
    });
    spent.failed(20);
    expect(spent.told(30)).toMatchObject({ kind: "failed", newcomerRoom: 0 });
    const unreached = new Quota();
    unreached.heard({ ...refused(5_000), kind: "failed" });
    expect(unreached.take("viewer", 10)).toMatchObject({ ok: false, reason: "unavailable" });
  });
});
