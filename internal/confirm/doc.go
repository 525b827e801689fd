// Package confirm is the statistics of issue 21: it decides, from
// interleaved runs of a baseline commit (A) and a candidate commit (B) on
// one host, whether one KPI changed (DIFFERENT), did not change by more than
// the KPI's threshold (SAME), needs more runs (NEED MORE) or could not be
// told within the run budget (UNKNOWN); it orders the runs (ABBA or seeded
// random), bisects a range of commits to the first bad one as a state
// machine a workflow drives, and measures a host's noise floor from A/A
// series. It holds no I/O, clock or unseeded randomness, so a Temporal
// workflow may call it directly.
//
// # The sequential test
//
// Runs come in pairs, one of each commit (ABBA order pairs A1 B1, B2 A2, …),
// and the test works on the log-ratio of each pair, d = ln(B/A): pairing on
// the same host at nearly the same time removes the slow drift that makes
// runs at different times disagree (Abedi and Brecht, "Conducting
// Repeatable Experiments in Highly Variable Cloud Computing Environments",
// ICPE 2017; Bulej et al., "Duet Benchmarking", ICPE 2020), and logs make
// the change relative and symmetric. The change is exp(mean d) − 1 with a
// Student t interval. (Values that are not all positive fall back to the
// paired difference over the baseline's mean.)
//
// Looking at the figures after every pair and testing at a fixed α would
// raise false alarms far more often than α (Armitage, McPherson and Rowe,
// "Repeated significance tests on accumulating data", JRSS A 1969); the
// package's test shows it (TestNaiveLooksInflateAlpha). So the test is a
// group-sequential design: it looks only at planned numbers of pairs (the
// first at MinPairs, each next one about 1.5 times the last, the last at
// the budget), and spends the total α over the looks with the linear
// spending function α·n/N of Lan and DeMets ("Discrete sequential
// boundaries for clinical trials", Biometrika 1983; the ρ = 1 member of
// Kim and DeMets' power family, close to Pocock's boundaries). At each look
// k the interval of the change is a t interval at level 1 − α_k, where α_k
// is the α spent at that look; by Bonferroni's inequality the intervals of
// all looks together cover the true change with probability at least
// 1 − α, whatever the correlation between looks. That makes the sequence
// of intervals a confidence sequence over the looks (cf. Howard et al.,
// "Time-uniform, nonparametric, nonasymptotic confidence sequences",
// Annals of Statistics 2021), and both answers read off it keep their
// error below α:
//
//   - DIFFERENT when the interval excludes 0 and the estimated change is
//     beyond the threshold (the rule of internal/verdict: statistically
//     clear and big enough to matter);
//   - SAME when the whole interval lies within ±threshold: an equivalence
//     test, the sequential form of Schuirmann's two one-sided tests ("A
//     comparison of the two one-sided tests procedure…", J. Pharmacokinet.
//     Biopharm. 1987);
//   - NEED MORE otherwise, with the pairs it expects to need: the sample
//     size (z_{α_k/2} + z_{0.2})² · s² / δ² of the paired test at 80%
//     power, with s the spread of d and δ the distance of the estimate
//     from 0 (heading for DIFFERENT) or from the threshold (heading for
//     SAME). With α 0.05 it is the familiar 16·(CV/change)² per side;
//   - UNKNOWN at the last look without an answer.
//
// Bonferroni over the looks is conservative next to exact group-sequential
// boundaries (which integrate over the joint law of the looks), by a few
// pairs at the sizes that matter here; it is exact-in-law for small
// samples under normal noise, where boundaries from the normal
// approximation are not. The same construction is what Chromium's Pinpoint
// approximates with its staged attempts at a fixed p (it adds attempts when
// unsure and answers SAME, DIFFERENT or UNKNOWN).
//
// internal/verdict's Mann-Whitney test is not used here: with the few runs
// an early look has, the smallest p-value a rank test can give (2/70 with
// 4 runs a side) is above the α a look may spend, and a rank test gives no
// interval of the relative change, which SAME needs. Its rule for turning
// a significant change into a verdict (beyond the threshold, in the KPI's
// direction) is reused.
//
// # Bisection
//
// Bisection keeps a good end and a bad end and, at each step, runs the
// commit in the middle against both ends in rounds of three interleaved
// runs, with the sequential test on each side: the middle commit is good
// when it is SAME as the good end or DIFFERENT (worse) from the bad end,
// and bad when it is DIFFERENT (worse) from the good end or SAME as the
// bad end. A commit that does not build is skipped (the nearest other
// commit to the middle is tried), so the answer may be a range, as with
// git bisect skip. Next and Observe make it a state machine: the same
// observations in the same order always give the same runs, so a
// workflow can replay it from its history.
//
// # Noise floors
//
// CV gives a series' coefficient of variation with a chi-square interval
// of the standard deviation; NoiseJumped asks, with a one-sided F test,
// whether a host's recent A/A runs are noisier than its history.
package confirm
