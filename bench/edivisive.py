"""Reference E-divisive means with a t-test, the way Apache Otava (Hunter)
finds change points, written for Pitwall's benchmark suite as the peer of
internal/changepoint. Reads {"series": [...], "repeats": R} on stdin and
prints the runtimes in milliseconds as JSON.

Split: in overlapping windows of 50 points (step 25), place the split that
maximises the E-divisive statistic Q (energy distance between the two
sides, Matteson and James) and recurse while a two-sample Welch t-test of
the sides has p below 0.02. Merge: test each candidate against the
segments up to its neighbours and drop the weakest above p 0.001 until
every one stands. Append: redo the windows over the last 200 points and
merge the tail, keeping the change points before it."""
import json
import sys
import time

import numpy as np
from scipy import stats

MIN_SIZE, WINDOW, FIRST_P, FINAL_P, TAIL = 5, 50, 0.02, 0.001, 200


def best_split(x):
    n = len(x)
    d = np.abs(x[:, None] - x[None, :])
    best, at = -1.0, -1
    for tau in range(MIN_SIZE, n - MIN_SIZE + 1):
        m, k = tau, n - tau
        between = d[:tau, tau:].mean()
        wa = d[:tau, :tau].sum() / (m * (m - 1))
        wb = d[tau:, tau:].sum() / (k * (k - 1))
        q = m * k / (m + k) * (2 * between - wa - wb)
        if q > best:
            best, at = q, tau
    return at


def divide(x, lo, hi, out):
    if hi - lo < 2 * MIN_SIZE:
        return
    tau = lo + best_split(x[lo:hi])
    if tau <= lo:
        return
    p = stats.ttest_ind(x[lo:tau], x[tau:hi], equal_var=False).pvalue
    if not p < FIRST_P:
        return
    out.add(tau)
    divide(x, lo, tau, out)
    divide(x, tau, hi, out)


def candidates(x, start):
    out = set()
    n = len(x)
    lo = start
    while True:
        hi = min(lo + WINDOW, n)
        divide(x, lo, hi, out)
        if hi >= n:
            break
        lo += WINDOW // 2
    return out


def merge(x, cands, keep_before=0):
    cps = sorted(cands)
    while cps:
        worst, worst_p = -1, -1.0
        for i, c in enumerate(cps):
            if c < keep_before:
                continue
            lo = cps[i - 1] if i > 0 else 0
            hi = cps[i + 1] if i + 1 < len(cps) else len(x)
            p = stats.ttest_ind(x[lo:c], x[c:hi], equal_var=False).pvalue
            if not p <= FINAL_P and p > worst_p:
                worst, worst_p = i, p
        if worst < 0:
            break
        del cps[worst]
    return cps


def detect(x):
    return merge(x, candidates(x, 0))


def append(x, known):
    start = max(0, len(x) - TAIL)
    kept = [c for c in known if c < start]
    return merge(x, set(kept) | candidates(x, start), keep_before=start)


def timed(f, repeats):
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main():
    req = json.load(sys.stdin)
    x = np.asarray(req["series"], dtype=float)
    r = req["repeats"]
    known = detect(x[:-1])
    res = {
        "detect_1000": timed(lambda: detect(x[:1000]), r),
        "detect_5000": timed(lambda: detect(x[:5000]), r),
        "append_5000": timed(lambda: append(x[:5000], known), r),
        "found_5000": len(detect(x[:5000])),
    }
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
