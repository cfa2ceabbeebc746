"""A small conflict-driven clause-learning (CDCL) solver for "one ref per extension" problems.

The caller evaluates every constraint itself (mwrelease/versions.py stays the judge of composer/semver
semantics) and hands over only which refs satisfy which requirement, as clauses over integer variables
(one per ref). This is the shape of libsolv's solver (Composer's is a port of it): unit propagation with two
watched literals, a learnt clause from the first unique implication point on every conflict, and a
backjump, so a dead end is never explored twice; resolvelib instead backtracks without learning.

Decisions follow the project's preference, so the answer is predictable: among the packages something
needs and nothing has chosen yet, the lowest-numbered one (the caller numbers the bundle's entries first,
in name order) takes its most preferred ref that every active requirement admits. Learnt clauses are
implied by the problem, so a ref is only ever ruled out when no answer that keeps the earlier choices has
it: each package gets the most preferred ref possible given the packages decided before it.

An unsatisfiable problem returns an unsatisfiable core: the tags of the caller's clauses the final conflict
was derived from (learnt clauses remember what they were derived from).
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

_DECISION = -1
_AMO = -2  # false because another ref of the same package is true ("one ref per extension")


@dataclass(frozen=True, kw_only=True)
class Answer:
    satisfiable: bool
    chosen: tuple[int, ...] = ()  # true variables, when satisfiable
    core: tuple[Hashable, ...] = ()  # tags of the clauses an unsatisfiable problem's conflict came from
    conflicts: int = 0


class Solver:
    """Variables are 1..n; ``packages[p]`` lists package p's variables, most preferred first. At most one
    variable per package is true. A root package must have a true variable; others only when a
    dependency clause of a true variable names them."""

    def __init__(self, packages: Sequence[Sequence[int]], roots: Sequence[int]) -> None:
        n = sum(len(vs) for vs in packages)
        self.packages = [tuple(vs) for vs in packages]
        self.pkg = [0] * (n + 1)
        for p, vs in enumerate(packages):
            for v in vs:
                self.pkg[v] = p
        self.roots = set(roots)
        self.val = [0] * (n + 1)
        self.level = [0] * (n + 1)
        self.reason = [_DECISION] * (n + 1)
        self.amo_by = [0] * (n + 1)
        self.clauses: list[list[int]] = []
        self.tags: list[Hashable | None] = []  # None: a learnt clause
        self.derived: dict[int, tuple[list[int], list[int]]] = {}  # learnt clause -> (clauses, level-0 vars)
        self.watches: dict[int, list[int]] = {}
        self._sets: dict[int, tuple[Sequence[int], frozenset[int]]] = {}  # id(allowed) -> (allowed, its set)
        self.deps: list[list[tuple[int, frozenset[int]]]] = [[] for _ in range(n + 1)]
        self.active: list[list[frozenset[int]]] = [[] for _ in packages]
        self.true_of = [0] * len(packages)
        self.trail: list[int] = []
        self.trail_lim: list[int] = []
        self.qhead = 0
        self.heap: list[int] = sorted(self.roots)
        self.units: list[int] = []
        self.empty: list[int] = []
        self.conflicts = 0

    def add_clause(self, lits: Sequence[int], tag: Hashable) -> int:
        return self._add(list(lits), tag)

    def _add(self, lits: list[int], tag: Hashable) -> int:
        cid = len(self.clauses)
        self.clauses.append(lits)
        self.tags.append(tag)
        if not lits:
            self.empty.append(cid)
        elif len(lits) == 1:
            self.units.append(cid)
        else:
            self.watches.setdefault(lits[0], []).append(cid)
            self.watches.setdefault(lits[1], []).append(cid)
        return cid

    def add_dependency(self, var: int, package: int, allowed: Sequence[int], tag: Hashable) -> None:
        """``var`` true needs one of ``allowed`` (variables of ``package``) true. Callers pass the same
        ``allowed`` object for the same requirement of many refs: its set is made once."""
        known = self._sets.get(id(allowed))
        if known is None or known[0] is not allowed:
            known = self._sets[id(allowed)] = (allowed, frozenset(allowed))
        self.add_dependency_of(var, package, allowed, known[1], tag)

    def add_dependency_of(self, var: int, package: int, allowed: Sequence[int], allowed_set: frozenset[int],
                          tag: Hashable) -> None:
        """``add_dependency`` with ``allowed`` as a set made by the caller (``frozenset(allowed)``)."""
        if var in allowed_set:
            return
        # self._add([-var, *allowed], tag), inline: a large request adds some 10,000 of these
        cid = len(self.clauses)
        self.clauses.append([-var, *allowed])
        self.tags.append(tag)
        if allowed:
            watches = self.watches
            watches.setdefault(-var, []).append(cid)
            watches.setdefault(allowed[0], []).append(cid)
        else:
            self.units.append(cid)
        self.deps[var].append((package, allowed_set))

    # -- assignment ------------------------------------------------------------------------------

    def _value(self, lit: int) -> int:
        v = self.val[lit if lit > 0 else -lit]
        return v if lit > 0 else -v

    def _assign(self, lit: int, reason: int, amo_by: int = 0) -> None:
        v = lit if lit > 0 else -lit
        self.val[v] = 1 if lit > 0 else -1
        self.level[v] = len(self.trail_lim)
        self.reason[v] = reason
        self.amo_by[v] = amo_by
        self.trail.append(lit)
        if lit > 0:
            self.true_of[self.pkg[v]] = v
            for p, allowed in self.deps[v]:
                self.active[p].append(allowed)
                heapq.heappush(self.heap, p)

    def _backjump(self, level: int) -> None:
        if len(self.trail_lim) <= level:
            return
        start = self.trail_lim[level]
        val, pkg, true_of, heap, deps, active = self.val, self.pkg, self.true_of, self.heap, self.deps, self.active
        for lit in reversed(self.trail[start:]):
            if lit > 0:
                val[lit] = 0
                p = pkg[lit]
                true_of[p] = 0
                heapq.heappush(heap, p)
                for d, _ in deps[lit]:
                    active[d].pop()  # appended in trail order, so undone last-in first-out
            else:
                val[-lit] = 0
        del self.trail[start:]
        del self.trail_lim[level:]
        self.qhead = len(self.trail)

    def _reason_lits(self, v: int) -> list[int]:
        r = self.reason[v]
        if r == _AMO:
            return [-v, -self.amo_by[v]]
        return self.clauses[r]

    # -- propagation -----------------------------------------------------------------------------

    def _propagate(self) -> tuple[list[int], int] | None:
        """Unit propagation; on conflict the falsified clause's literals and id (-1: two refs of one
        package). Clause lists keep their two watched literals in front. (The hot loop of a solve: the
        solver's lists are held in locals, and a literal made false is assigned inline.)"""
        val, watches, clauses, trail = self.val, self.watches, self.clauses, self.trail
        levels, reasons, amo_by, packages, pkg = self.level, self.reason, self.amo_by, self.packages, self.pkg
        level = len(self.trail_lim)  # no decision is made while propagating
        qhead = self.qhead
        while qhead < len(trail):
            lit = trail[qhead]
            qhead += 1
            if lit > 0:
                for w in packages[pkg[lit]]:
                    if w != lit:
                        value = val[w]
                        if value == 1:
                            self.qhead = qhead
                            return [-lit, -w], -1
                        if value == 0:  # self._assign(-w, _AMO, lit): most assignments are these
                            val[w] = -1
                            levels[w] = level
                            reasons[w] = _AMO
                            amo_by[w] = lit
                            trail.append(-w)
            false_lit = -lit
            ws = watches.get(false_lit)
            if not ws:
                continue
            keep: list[int] = []
            kept = keep.append
            for k, cid in enumerate(ws):
                c = clauses[cid]
                if c[0] == false_lit:
                    c[0], c[1] = c[1], c[0]
                first = c[0]
                fv = val[first] if first > 0 else -val[-first]
                if fv == 1:
                    kept(cid)
                    continue
                for i in range(2, len(c)):
                    q = c[i]
                    if (val[q] if q > 0 else -val[-q]) != -1:
                        c[1], c[i] = q, false_lit
                        watches.setdefault(q, []).append(cid)
                        break
                else:
                    kept(cid)
                    if fv == -1:
                        keep.extend(ws[k + 1:])
                        watches[false_lit] = keep
                        self.qhead = qhead
                        return c, cid
                    if first > 0:
                        self._assign(first, cid)
                    else:  # self._assign(first, cid), inline
                        val[-first] = -1
                        levels[-first] = level
                        reasons[-first] = cid
                        amo_by[-first] = 0
                        trail.append(first)
            watches[false_lit] = keep
        self.qhead = qhead
        return None

    # -- learning ----------------------------------------------------------------------------------

    def _analyze(self, conflict: list[int]) -> tuple[list[int], int, list[int], list[int]]:
        """First-UIP learnt clause, the level to jump back to, and what it was derived from."""
        level = len(self.trail_lim)
        seen: set[int] = set()
        learnt = [0]
        used: list[int] = []
        zero: list[int] = []
        counter = 0
        clause = conflict
        p = 0
        idx = len(self.trail) - 1
        while True:
            for q in clause:
                if q == p:
                    continue
                v = q if q > 0 else -q
                if v in seen:
                    continue
                seen.add(v)
                if self.level[v] == 0:
                    zero.append(v)
                elif self.level[v] == level:
                    counter += 1
                else:
                    learnt.append(q)
            while True:
                p = self.trail[idx]
                idx -= 1
                if (p if p > 0 else -p) in seen and self.level[p if p > 0 else -p] == level:
                    break
            counter -= 1
            if counter == 0:
                break
            v = p if p > 0 else -p
            if self.reason[v] >= 0:
                used.append(self.reason[v])
            clause = self._reason_lits(v)
        learnt[0] = -p
        back = 0
        if len(learnt) > 1:
            best = max(range(1, len(learnt)), key=lambda i: self.level[abs(learnt[i])])
            learnt[1], learnt[best] = learnt[best], learnt[1]
            back = self.level[abs(learnt[1])]
        return learnt, back, used, zero

    def _core(self, conflict: list[int], cid: int) -> tuple[Hashable, ...]:
        """Tags of the problem's clauses the level-0 conflict rests on: the level-0 implication graph
        behind the conflict, and what each learnt clause on it was derived from."""
        tags: dict[Hashable, None] = {}
        seen: set[tuple[int, bool]] = set()
        seen_v: set[int] = set()
        # (clause, follow): follow the reasons of its literals only for clauses of the level-0 graph; the
        # literals of a clause a learnt clause was resolved from were decided above level 0 at the time.
        todo_c: list[tuple[int, bool]] = [(cid, True)] if cid >= 0 else []
        todo_v = [abs(q) for q in conflict]
        while todo_c or todo_v:
            if todo_c:
                c, follow = todo_c.pop()
                if (c, follow) in seen:
                    continue
                seen.add((c, follow))
                tag = self.tags[c]
                if tag is not None:
                    tags[tag] = None
                else:
                    used, zero = self.derived[c]
                    todo_c.extend((u, False) for u in used)
                    todo_v.extend(zero)
                if follow:
                    todo_v.extend(abs(q) for q in self.clauses[c])
                continue
            v = todo_v.pop()
            if v in seen_v or self.val[v] == 0:
                continue
            seen_v.add(v)
            if self.reason[v] >= 0:
                todo_c.append((self.reason[v], True))
            elif self.reason[v] == _AMO:
                todo_v.append(self.amo_by[v])
        return tuple(tags)

    # -- search ------------------------------------------------------------------------------------

    def _decide(self) -> bool:
        heap, val, active = self.heap, self.val, self.active
        while heap:
            p = heap[0]
            if self.true_of[p] or not (active[p] or p in self.roots):
                heapq.heappop(heap)
                continue
            wanted = active[p]
            choice = fallback = 0
            for v in self.packages[p]:
                if val[v] == 0:
                    if all(v in s for s in wanted):
                        choice = v
                        break
                    if not fallback and (not wanted or v in wanted[0]):
                        fallback = v
            choice = choice or fallback or next((v for v in self.packages[p] if val[v] == 0), 0)
            if not choice:  # every ref ruled out yet nothing conflicted: cannot happen with the clauses above
                raise AssertionError(f"package {p} needed but has no ref left")
            self.trail_lim.append(len(self.trail))
            self._assign(choice, _DECISION)
            return True
        return False

    def solve(self) -> Answer:
        if self.empty:
            return Answer(satisfiable=False, core=(self.tags[self.empty[0]],))
        for cid in self.units:
            lit = self.clauses[cid][0]
            value = self._value(lit)
            if value == -1:
                return Answer(satisfiable=False, core=self._core([lit], cid))
            if value == 0:
                self._assign(lit, cid)
        while True:
            found = self._propagate()
            if found is not None:
                conflict, cid = found
                self.conflicts += 1
                if not self.trail_lim:
                    return Answer(satisfiable=False, core=self._core(conflict, cid), conflicts=self.conflicts)
                learnt, back, used, zero = self._analyze(conflict)
                if cid >= 0:
                    used.append(cid)
                self._backjump(back)
                new = len(self.clauses)
                self.clauses.append(learnt)
                self.tags.append(None)
                self.derived[new] = (used, zero)
                if len(learnt) > 1:
                    self.watches.setdefault(learnt[0], []).append(new)
                    self.watches.setdefault(learnt[1], []).append(new)
                self._assign(learnt[0], new)
            elif not self._decide():
                return Answer(satisfiable=True, chosen=tuple(v for v in range(1, len(self.val)) if self.val[v] == 1),
                              conflicts=self.conflicts)
