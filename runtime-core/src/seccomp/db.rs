//! libseccomp's rule database, ported from its `src/db.c` (2.5), so that a profile decides
//! here exactly what it decides under runc and crun, which build their filters with it.
//!
//! A rule's argument conditions become a chain of 32-bit comparison nodes (two or three per
//! condition on a 64-bit ABI, one on a 32-bit ABI, which compares only the low word). The
//! chains of one syscall are merged into a tree: nodes of one level are alternatives, tried
//! in libseccomp's order (by argument, then operator, then value, not by profile order); a
//! branch that fails falls through to the next alternative. A later unconditional rule
//! replaces every conditional one, an earlier one makes later rules moot, and two rules
//! whose chains meet with different actions are refused (libseccomp's EEXIST).
//!
//! The port keeps libseccomp's node sharing and reference counts: whether a subtree is
//! pruned or kept depends on them, and with it which rule answers first.

/// A node's index in the arena; nodes are never moved, and "freed" ones are only unlinked.
pub type Id = usize;

/// The comparison operators, as the profile gives them (`orig`) and as nodes test them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

/// One argument condition of a rule (`db_api_arg`): for MaskedEq, `mask` is the profile's
/// `value` and `datum` its `valueTwo`; otherwise the mask is all ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    pub op: Op,
    pub mask: u64,
    pub datum: u64,
}

/// A rule for one ABI: its syscall number there and at most one condition per argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: u32,
    pub syscall: u32,
    pub args: [Option<Arg>; 6],
}

#[derive(Debug, Clone)]
pub struct Node {
    pub arg: u32,
    /// Compares the argument's high word (64-bit ABIs only).
    pub hi: bool,
    /// Eq, MaskedEq, Gt or Ge: what the BPF instruction tests.
    pub op: Op,
    orig: Op,
    pub mask: u32,
    pub datum: u32,
    full: u64,
    pub nxt_t: Option<Id>,
    pub nxt_f: Option<Id>,
    lvl_prv: Option<Id>,
    pub lvl_nxt: Option<Id>,
    pub act_t: Option<u32>,
    pub act_f: Option<u32>,
    refcnt: u32,
}

/// One syscall's entry: an action when it has no chains, else its tree.
#[derive(Debug, Clone)]
pub struct Sys {
    pub num: u32,
    pub action: u32,
    pub chains: Option<Id>,
}

/// The database of one ABI.
#[derive(Debug, Clone)]
pub struct Db {
    wide: bool,
    nodes: Vec<Node>,
    /// In number order, as libseccomp keeps them.
    pub syscalls: Vec<Sys>,
}

/// Two rules of one syscall that libseccomp cannot merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;

/// Where a tree pointer lives, for the functions that rewrite it.
#[derive(Clone, Copy)]
enum Slot {
    Chains(usize),
    T(Id),
    F(Id),
}

const IST_MATCH: u32 = 0x01;
const IST_MATCH_ONCE: u32 = 0x02;
const IST_X_FINISHED: u32 = 0x10;
const IST_N_FINISHED: u32 = 0x20;
const IST_X_PREFIX: u32 = 0x100;
const IST_N_PREFIX: u32 = 0x200;
const IST_MATCHSET: u32 = IST_MATCH | IST_MATCH_ONCE;
const IST_REDUNDANT: u32 = IST_MATCH | IST_X_FINISHED | IST_N_PREFIX;

#[derive(Clone, Copy)]
struct State {
    flags: u32,
    action: u32,
    sys: usize,
}

impl Db {
    /// `wide`: the ABI passes 64-bit arguments (x86_64, aarch64, riscv64).
    pub fn new(wide: bool) -> Db {
        Db {
            wide,
            nodes: Vec::new(),
            syscalls: Vec::new(),
        }
    }

    pub fn node(&self, id: Id) -> &Node {
        &self.nodes[id]
    }

    /// The first node of `id`'s level.
    pub fn level_start(&self, mut id: Id) -> Id {
        while let Some(p) = self.nodes[id].lvl_prv {
            id = p;
        }
        id
    }

    fn slot(&self, s: Slot) -> Option<Id> {
        match s {
            Slot::Chains(i) => self.syscalls[i].chains,
            Slot::T(n) => self.nodes[n].nxt_t,
            Slot::F(n) => self.nodes[n].nxt_f,
        }
    }

    fn set_slot(&mut self, s: Slot, v: Option<Id>) {
        match s {
            Slot::Chains(i) => self.syscalls[i].chains = v,
            Slot::T(n) => self.nodes[n].nxt_t = v,
            Slot::F(n) => self.nodes[n].nxt_f = v,
        }
    }

    fn get(&mut self, id: Option<Id>) -> Option<Id> {
        if let Some(i) = id {
            self.nodes[i].refcnt += 1;
        }
        id
    }

    /// `_db_node_put`: drops a reference; returns the nodes freed and what the pointer holds
    /// afterwards (a freed node's pointer moves to a neighbour on its level).
    fn put(&mut self, node: Option<Id>) -> (u32, Option<Id>) {
        let Some(n) = node else { return (0, None) };
        self.nodes[n].refcnt -= 1;
        if self.nodes[n].refcnt != 0 {
            return (0, node);
        }
        let (mut lp, mut ln) = (self.nodes[n].lvl_prv, self.nodes[n].lvl_nxt);
        let (nt, nf) = (self.nodes[n].nxt_t, self.nodes[n].nxt_f);
        if let Some(p) = lp {
            self.nodes[p].lvl_nxt = None;
        }
        if let Some(x) = ln {
            self.nodes[x].lvl_prv = None;
        }
        let mut cnt = 0;
        if lp.is_some() {
            let (c, v) = self.put(lp);
            cnt += c;
            lp = v;
        }
        if ln.is_some() {
            let (c, v) = self.put(ln);
            cnt += c;
            ln = v;
        }
        if let Some(p) = lp {
            self.nodes[p].lvl_nxt = self.get(ln);
        }
        if let Some(x) = ln {
            self.nodes[x].lvl_prv = self.get(lp);
        }
        let after = lp.or(ln);
        cnt += self.tree_put(nt).0;
        cnt += self.tree_put(nf).0;
        (cnt + 1, after)
    }

    fn tree_put(&mut self, tree: Option<Id>) -> (u32, Option<Id>) {
        let (mut cnt, after) = self.put(tree);
        if let Some(t) = after {
            cnt += self.level_clean(t);
        }
        (cnt, after)
    }

    fn level_clean(&mut self, node: Id) -> u32 {
        let start = self.level_start(node);
        let mut n = Some(start);
        while let Some(i) = n {
            let links = u32::from(self.nodes[i].lvl_prv.is_some())
                + u32::from(self.nodes[i].lvl_nxt.is_some());
            if self.nodes[i].refcnt > links {
                return 0;
            }
            n = self.nodes[i].lvl_nxt;
        }
        let (mut cnt, mut n) = (0, Some(start));
        while n.is_some() {
            let (c, v) = self.put(n);
            cnt += c;
            n = v;
        }
        cnt
    }

    fn leaf(&self, i: Id) -> bool {
        self.nodes[i].nxt_t.is_none() && self.nodes[i].nxt_f.is_none()
    }

    fn zombie(&self, i: Id) -> bool {
        self.leaf(i) && self.nodes[i].act_t.is_none() && self.nodes[i].act_f.is_none()
    }

    fn arg_priority(n: &Node) -> u32 {
        (n.arg << 1) + u32::from(n.hi)
    }

    fn op_priority(op: Op) -> u32 {
        match op {
            Op::MaskedEq | Op::Eq | Op::Ne => 3,
            Op::Le | Op::Lt => 2,
            Op::Ge | Op::Gt => 1,
        }
    }

    fn lt(&self, a: Id, b: Id) -> bool {
        let (a, b) = (&self.nodes[a], &self.nodes[b]);
        let (pa, pb) = (Self::arg_priority(a), Self::arg_priority(b));
        if pa != pb {
            return pa < pb;
        }
        let (oa, ob) = (Self::op_priority(a.orig), Self::op_priority(b.orig));
        if oa != ob {
            return oa < ob;
        }
        match a.orig {
            Op::Le | Op::Lt => a.datum > b.datum,
            _ => a.datum < b.datum,
        }
    }

    fn eq(&self, a: Id, b: Id) -> bool {
        let (a, b) = (&self.nodes[a], &self.nodes[b]);
        Self::arg_priority(a) == Self::arg_priority(b)
            && a.op == b.op
            && a.datum == b.datum
            && a.mask == b.mask
    }

    /// `_db_tree_act_check`: whether every action in `tree`'s level and below is `action`.
    fn act_check(&self, tree: Option<Id>, action: u32) -> bool {
        let Some(t) = tree else { return true };
        let mut c = Some(self.level_start(t));
        while let Some(i) = c {
            let n = &self.nodes[i];
            if n.act_t.is_some_and(|a| a != action) || n.act_f.is_some_and(|a| a != action) {
                return false;
            }
            if !self.act_check(n.nxt_t, action) || !self.act_check(n.nxt_f, action) {
                return false;
            }
            c = n.lvl_nxt;
        }
        true
    }

    /// `_db_tree_remove`: unlinks `node` (and any zombie met on the way) from `tree`.
    fn tree_remove(&mut self, tree: Slot, node: Id) -> u32 {
        let Some(t) = self.slot(tree) else { return 0 };
        let mut c = self.level_start(t);
        let mut cnt = 0;
        loop {
            if c == node {
                break;
            }
            cnt += self.tree_remove(Slot::T(c), node);
            cnt += self.tree_remove(Slot::F(c), node);
            if self.zombie(c) {
                break;
            }
            match self.nodes[c].lvl_nxt {
                Some(n) if cnt == 0 => c = n,
                _ => return cnt,
            }
        }
        if Some(c) == self.slot(tree) {
            let v = self.nodes[c].lvl_prv.or(self.nodes[c].lvl_nxt);
            self.set_slot(tree, v);
        }
        let (p, n) = (self.nodes[c].lvl_prv, self.nodes[c].lvl_nxt);
        if let Some(p) = p {
            self.nodes[p].lvl_nxt = n;
        }
        if let Some(n) = n {
            self.nodes[n].lvl_prv = p;
        }
        self.nodes[c].lvl_prv = None;
        self.nodes[c].lvl_nxt = None;
        cnt + self.put(Some(c)).0
    }
}

/// Building chains from rules (`_db_rule_gen_64`, `_db_rule_gen_32`).
impl Db {
    fn alloc(&mut self, arg: u32, hi: bool, orig: Op, mask: u32, datum: u32, full: u64) -> Id {
        self.nodes.push(Node {
            arg,
            hi,
            op: orig,
            orig,
            mask,
            // `_db_node_mask_fixup`
            datum: datum & mask,
            full,
            nxt_t: None,
            nxt_f: None,
            lvl_prv: None,
            lvl_nxt: None,
            act_t: None,
            act_f: None,
            refcnt: 0,
        });
        self.nodes.len() - 1
    }

    /// The new rule's chain, or None for an unconditional rule.
    fn gen(&mut self, r: &Rule) -> Option<Id> {
        if self.wide {
            self.gen_64(r)
        } else {
            self.gen_32(r)
        }
    }

    fn gen_64(&mut self, r: &Rule) -> Option<Id> {
        let (mut chains, mut prev, mut op_prev) = (None, [None::<Id>; 3], None::<Op>);
        for (arg, a) in r.args.iter().enumerate() {
            let Some(a) = a else { continue };
            if a.op == Op::MaskedEq && a.mask == 0 {
                continue; // a tautology
            }
            let arg = arg as u32;
            let (mhi, mlo) = ((a.mask >> 32) as u32, a.mask as u32);
            let (dhi, dlo) = ((a.datum >> 32) as u32, a.datum as u32);
            let c0 = self.alloc(arg, true, a.op, mhi, dhi, a.datum);
            let mut c2 = None;
            // Ordered: high word above, high word equal, then the low word. Equalities: the
            // high word, then the low word.
            let c1 = if a.op.ordered() {
                self.alloc(arg, true, a.op, mhi, dhi, a.datum)
            } else {
                self.alloc(arg, false, a.op, mlo, dlo, a.datum)
            };
            if a.op.ordered() {
                let n = self.alloc(arg, false, a.op, mlo, dlo, a.datum);
                self.nodes[c0].op = Op::Gt;
                self.nodes[c1].op = Op::Eq;
                self.nodes[n].op = if matches!(a.op, Op::Gt | Op::Le) {
                    Op::Gt
                } else {
                    Op::Ge
                };
                self.nodes[c0].nxt_f = self.get(Some(c1));
                self.nodes[c1].nxt_t = self.get(Some(n));
                c2 = Some(n);
            } else {
                let op = if a.op == Op::MaskedEq {
                    Op::MaskedEq
                } else {
                    Op::Eq
                };
                self.nodes[c0].op = op;
                self.nodes[c1].op = op;
                self.nodes[c0].nxt_t = self.get(Some(c1));
            }
            match (op_prev, prev) {
                (None, _) => chains = self.get(Some(c0)),
                (Some(Op::Gt | Op::Ge), [Some(p0), _, Some(p2)]) => {
                    self.nodes[p0].nxt_t = self.get(Some(c0));
                    self.nodes[p2].nxt_t = self.get(Some(c0));
                }
                (Some(Op::Eq | Op::MaskedEq), [_, Some(p1), _]) => {
                    self.nodes[p1].nxt_t = self.get(Some(c0));
                }
                (Some(Op::Le | Op::Lt), [_, Some(p1), Some(p2)]) => {
                    self.nodes[p1].nxt_f = self.get(Some(c0));
                    self.nodes[p2].nxt_f = self.get(Some(c0));
                }
                (Some(_), [Some(p0), Some(p1), _]) => {
                    self.nodes[p0].nxt_f = self.get(Some(c0));
                    self.nodes[p1].nxt_f = self.get(Some(c0));
                }
                _ => {}
            }
            prev = [Some(c0), Some(c1), c2];
            op_prev = Some(a.op);
        }
        let act = Some(r.action);
        match (op_prev, prev) {
            (Some(Op::Gt | Op::Ge), [Some(c0), _, Some(c2)]) => {
                self.nodes[c0].act_t = act;
                self.nodes[c2].act_t = act;
            }
            (Some(Op::Le | Op::Lt), [_, Some(c1), Some(c2)]) => {
                self.nodes[c1].act_f = act;
                self.nodes[c2].act_f = act;
            }
            (Some(Op::Eq | Op::MaskedEq), [_, Some(c1), _]) => self.nodes[c1].act_t = act,
            (Some(_), [Some(c0), Some(c1), _]) => {
                self.nodes[c0].act_f = act;
                self.nodes[c1].act_f = act;
            }
            _ => {}
        }
        chains
    }

    fn gen_32(&mut self, r: &Rule) -> Option<Id> {
        let (mut chains, mut prev, mut tf) = (None::<Id>, None::<Id>, true);
        for (arg, a) in r.args.iter().enumerate() {
            let Some(a) = a else { continue };
            if a.op == Op::MaskedEq && a.mask as u32 == 0 {
                continue; // a tautology on 32 bits
            }
            // Only the low words: the kernel passes 32-bit arguments.
            let c = self.alloc(
                arg as u32,
                false,
                a.op,
                a.mask as u32,
                a.datum as u32,
                a.datum,
            );
            match prev {
                Some(p) if tf => self.nodes[p].nxt_t = self.get(Some(c)),
                Some(p) => self.nodes[p].nxt_f = self.get(Some(c)),
                None => chains = self.get(Some(c)),
            }
            (self.nodes[c].op, tf) = match a.op {
                Op::Ne => (Op::Eq, false),
                Op::Lt => (Op::Ge, false),
                Op::Le => (Op::Gt, false),
                op => (op, true),
            };
            prev = Some(c);
        }
        if let Some(c) = prev {
            if tf {
                self.nodes[c].act_t = Some(r.action);
            } else {
                self.nodes[c].act_f = Some(r.action);
            }
        }
        chains
    }
}

impl Op {
    /// GT, GE, LT, LE: three nodes on a 64-bit ABI (high word above, equal, then low word).
    fn ordered(self) -> bool {
        matches!(self, Op::Gt | Op::Ge | Op::Lt | Op::Le)
    }
}

/// Adding a rule (`db_rule_add`, `_db_tree_prune`, `_db_tree_add`).
impl Db {
    pub fn add(&mut self, r: &Rule) -> Result<(), Conflict> {
        let new = self.gen(r);
        let pos = self.syscalls.partition_point(|s| s.num < r.syscall);
        let mut removed = false;
        loop {
            let here = self
                .syscalls
                .get(pos)
                .filter(|s| s.num == r.syscall)
                .is_some();
            if !here {
                let sys = Sys {
                    num: r.syscall,
                    action: r.action,
                    chains: new,
                };
                self.syscalls.insert(pos, sys);
                return Ok(());
            }
            let existing = self.syscalls[pos].chains;
            match (existing, new) {
                (None, _) if removed => {
                    self.syscalls[pos].chains = new;
                    self.syscalls[pos].action = r.action;
                    return Ok(());
                }
                (None, _) => {
                    // An unconditional rule came first: it stands.
                    self.tree_put(new);
                    return Ok(());
                }
                (Some(_), None) => {
                    // An unconditional rule replaces every conditional one.
                    self.tree_put(existing);
                    self.syscalls[pos].chains = None;
                    self.syscalls[pos].action = r.action;
                    return Ok(());
                }
                (Some(_), Some(n)) => {
                    let mut st = State {
                        flags: 0,
                        action: r.action,
                        sys: pos,
                    };
                    let cnt = self.prune(existing, Some(n), &mut st);
                    if cnt > 0 {
                        removed = true;
                        if self.syscalls[pos].chains.is_none() {
                            continue;
                        }
                    } else if st.flags & IST_REDUNDANT == IST_REDUNDANT {
                        self.tree_put(new);
                        return Ok(());
                    }
                    self.tree_add(Slot::Chains(pos), n)?;
                    self.tree_put(new);
                    return Ok(());
                }
            }
        }
    }

    fn tree_add(&mut self, existing: Slot, n: Id) -> Result<(), Conflict> {
        let Some(mut x) = self.slot(existing) else {
            return Ok(());
        };
        loop {
            if self.eq(x, n) {
                return self.merge(x, n);
            } else if !self.lt(x, n) {
                match self.nodes[x].lvl_nxt {
                    None => {
                        self.nodes[n].lvl_prv = self.get(Some(x));
                        self.nodes[x].lvl_nxt = self.get(Some(n));
                        return Ok(());
                    }
                    Some(next) => x = next,
                }
            } else {
                match self.nodes[x].lvl_prv {
                    Some(p) => {
                        self.nodes[p].lvl_nxt = self.get(Some(n));
                        self.nodes[n].lvl_prv = Some(p);
                        self.nodes[x].lvl_prv = self.get(Some(n));
                        self.nodes[n].lvl_nxt = Some(x);
                    }
                    None => {
                        self.nodes[x].lvl_prv = self.get(Some(n));
                        self.nodes[n].lvl_nxt = self.get(Some(x));
                    }
                }
                if self.slot(existing) == Some(x) {
                    let v = self.get(Some(n));
                    self.set_slot(existing, v);
                    self.put(Some(x));
                }
                return Ok(());
            }
        }
    }

    /// Two equal nodes meet: actions and next levels of the new one go into the old one.
    fn merge(&mut self, x: Id, n: Id) -> Result<(), Conflict> {
        if let Some(act) = self.nodes[n].act_t {
            match self.nodes[x].act_t {
                None => {
                    if !self.act_check(self.nodes[x].nxt_t, act) {
                        return Err(Conflict);
                    }
                    self.put(self.nodes[x].nxt_t);
                    self.nodes[x].nxt_t = None;
                    self.nodes[x].act_t = Some(act);
                }
                Some(old) if old != act => {
                    if self.nodes[n].hi && self.nodes[n].full > self.nodes[x].full {
                        self.nodes[x].act_t = Some(act);
                    }
                    if self.leaf(x) || self.leaf(n) {
                        return Err(Conflict);
                    }
                }
                Some(_) => {}
            }
        }
        if let Some(act) = self.nodes[n].act_f {
            match self.nodes[x].act_f {
                None => {
                    if !self.act_check(self.nodes[x].nxt_f, act) {
                        return Err(Conflict);
                    }
                    self.put(self.nodes[x].nxt_f);
                    self.nodes[x].nxt_f = None;
                    self.nodes[x].act_f = Some(act);
                }
                Some(old) if old != act => {
                    // As libseccomp 2.5 has it: the false branch's tie-break writes the true
                    // action's value (zero when the new node has none).
                    if self.nodes[n].hi
                        && self.nodes[n].full < self.nodes[x].full
                        && self.nodes[x].act_t.is_some()
                    {
                        self.nodes[x].act_t = Some(self.nodes[n].act_t.unwrap_or(0));
                    }
                    if self.leaf(x) || self.leaf(n) {
                        return Err(Conflict);
                    }
                }
                Some(_) => {}
            }
        }
        if let Some(nt) = self.nodes[n].nxt_t {
            if self.nodes[x].nxt_t.is_some() {
                self.tree_add(Slot::T(x), nt)?;
            } else if self.nodes[x].act_t.is_none() {
                self.nodes[x].nxt_t = self.get(Some(nt));
            } else {
                return Ok(()); // the existing tree is shorter
            }
        }
        if let Some(nf) = self.nodes[n].nxt_f {
            if self.nodes[x].nxt_f.is_some() {
                self.tree_add(Slot::F(x), nf)?;
            } else if self.nodes[x].act_f.is_none() {
                self.nodes[x].nxt_f = self.get(Some(nf));
            }
        }
        Ok(())
    }
}

/// `_db_tree_prune`: before a new chain is added, subtrees of the existing tree that it makes
/// redundant (same action, and the new chain a prefix of them) are removed.
impl Db {
    fn prune(&mut self, existing: Option<Id>, new: Option<Id>, st: &mut State) -> u32 {
        let mut cnt = 0;
        let mut now = *st;
        let matched = self.prune_level(existing, new, st, &mut now, &mut cnt);
        if !matched {
            now.flags &= !IST_MATCH;
        }
        if now.flags & IST_MATCH != 0 {
            st.flags |= now.flags;
        } else {
            st.flags &= !IST_MATCH;
        }
        cnt
    }

    /// The loop over the existing level; returns true where libseccomp jumps straight to
    /// `prune_return` (keeping the match flag as it stands), false when the level ran out.
    fn prune_level(
        &mut self,
        existing: Option<Id>,
        new: Option<Id>,
        st: &State,
        now: &mut State,
        cnt: &mut u32,
    ) -> bool {
        let (Some(x0), Some(n)) = (existing, new) else {
            return true;
        };
        if st.flags & IST_MATCHSET == IST_MATCH_ONCE {
            return true;
        }
        let mut x = Some(self.level_start(x0));
        while let Some(xi) = x {
            let next = self.nodes[xi].lvl_nxt;
            if self.prune_node(xi, n, st, now, cnt) {
                return true;
            }
            x = next;
        }
        false
    }

    /// One existing node against the new chain's node; true means "return now".
    fn prune_node(&mut self, x: Id, n: Id, st: &State, now: &mut State, cnt: &mut u32) -> bool {
        let nn = self.nodes[n].clone();
        if self.eq(x, n) {
            now.flags |= IST_MATCHSET;
            if self.leaf(n) {
                now.flags |= IST_N_FINISHED;
            }
            if self.leaf(x) {
                now.flags |= IST_X_FINISHED;
            }
            let xn = &self.nodes[x];
            if (xn.act_t.is_some() || xn.nxt_t.is_some())
                && !(nn.act_t.is_some() || nn.nxt_t.is_some())
            {
                return true;
            }
            if (xn.act_f.is_some() || xn.nxt_f.is_some())
                && !(nn.act_f.is_some() || nn.nxt_f.is_some())
            {
                return true;
            }
            let done = IST_N_FINISHED | IST_X_FINISHED;
            if now.flags & done == done && (nn.act_t != xn.act_t || nn.act_f != xn.act_f) {
                return true;
            }
            let mut x = Some(x);
            for branch in [true, false] {
                let Some(xi) = x else { return false };
                let Some(sub) = (if branch { nn.nxt_t } else { nn.nxt_f }) else {
                    continue;
                };
                self.get(Some(xi));
                let mut nxt = *st;
                nxt.flags |= IST_MATCHSET;
                let below = if branch {
                    self.nodes[xi].nxt_t
                } else {
                    self.nodes[xi].nxt_f
                };
                *cnt += self.prune(below, Some(sub), &mut nxt);
                let (c, v) = self.put(Some(xi));
                *cnt += c;
                x = v;
                if nxt.flags & IST_MATCH != 0 {
                    now.flags |= nxt.flags;
                }
            }
            let Some(xi) = x else { return false };
            let same = self.act_check(Some(xi), now.action);
            let f = now.flags;
            if same && f & IST_MATCH != 0 && f & IST_N_FINISHED != 0 && f & IST_X_PREFIX != 0 {
                // The new chain is shorter: the existing one goes.
                *cnt += self.tree_remove(Slot::Chains(st.sys), xi);
                if self.syscalls[st.sys].chains.is_none() {
                    return true;
                }
            } else if same && f & IST_MATCH != 0 && f & IST_X_FINISHED != 0 && f & IST_N_PREFIX != 0
            {
                return true; // the new chain is longer
            }
            false
        } else if self.lt(x, n) {
            if st.flags & IST_N_PREFIX != 0 {
                return true;
            }
            self.prune_deeper(x, n, st, now, cnt, IST_X_PREFIX, true)
        } else {
            if st.flags & IST_X_PREFIX != 0 {
                return true;
            }
            self.prune_deeper(x, n, st, now, cnt, IST_N_PREFIX, false)
        }
    }

    /// Unequal nodes: go one level down the existing tree (`down_existing`) or the new one.
    #[allow(clippy::too_many_arguments)]
    fn prune_deeper(
        &mut self,
        x: Id,
        n: Id,
        st: &State,
        now: &mut State,
        cnt: &mut u32,
        prefix: u32,
        down_existing: bool,
    ) -> bool {
        let mut x = Some(x);
        for branch in [true, false] {
            let Some(xi) = x else { return false };
            let (ex, nw) = if down_existing {
                let below = if branch {
                    self.nodes[xi].nxt_t
                } else {
                    self.nodes[xi].nxt_f
                };
                (below, Some(n))
            } else {
                let below = if branch {
                    self.nodes[n].nxt_t
                } else {
                    self.nodes[n].nxt_f
                };
                (Some(xi), below)
            };
            let deeper = if down_existing { ex } else { nw };
            if deeper.is_none() {
                continue;
            }
            self.get(Some(xi));
            let mut nxt = *st;
            nxt.flags &= !IST_MATCH;
            nxt.flags |= prefix;
            *cnt += self.prune(ex, nw, &mut nxt);
            let (c, v) = self.put(Some(xi));
            *cnt += c;
            x = v;
            if nxt.flags & IST_MATCH != 0 {
                now.flags |= nxt.flags;
                return true;
            }
        }
        false
    }
}
