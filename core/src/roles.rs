//! Roles and permissions compiled to bitsets.
//!
//! Permissions are bit positions; a role's effective permissions are the closure over its
//! hierarchy (`owner` inherits `admin` inherits `member` …), computed once when the policy is
//! compiled. At request time the effective set is a handful of word ORs, and a route requirement
//! is a handful of word ANDs. Nothing here allocates per request.

use std::collections::HashMap;

/// Most permissions (and most roles) a policy may declare.
pub const MAX_BITS: usize = 1024;
const WORDS: usize = MAX_BITS / 64;

/// A fixed-size set of small integers (permission or role ids).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bits([u64; WORDS]);

impl Default for Bits {
    fn default() -> Self {
        Bits([0; WORDS])
    }
}

impl core::fmt::Debug for Bits {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Bits {
    /// Adds `i` (ids at or past [`MAX_BITS`] are ignored; the compiler never makes them).
    pub fn insert(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1u64 << (i % 64);
        }
    }

    /// Whether `i` is in the set.
    pub fn contains(&self, i: usize) -> bool {
        self.0
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// Adds every member of `other`.
    pub fn union_with(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= *b;
        }
    }

    /// Keeps only the members `other` has too.
    pub fn intersect_with(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a &= *b;
        }
    }

    /// Whether every member of `other` is in `self`.
    pub fn contains_all(&self, other: &Bits) -> bool {
        self.0.iter().zip(other.0.iter()).all(|(a, b)| a & b == *b)
    }

    /// Whether `self` and `other` share a member.
    pub fn intersects(&self, other: &Bits) -> bool {
        self.0.iter().zip(other.0.iter()).any(|(a, b)| a & b != 0)
    }

    /// The members of `other` missing from `self`.
    pub fn missing_from(&self, other: &Bits) -> Bits {
        let mut out = Bits::default();
        for ((o, a), b) in out.0.iter_mut().zip(self.0.iter()).zip(other.0.iter()) {
            *o = b & !a;
        }
        out
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// The members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        // Empty words are skipped whole and set bits found with trailing_zeros: the cost follows
        // the members, not the 1,024 possible ids.
        self.0
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0)
            .flat_map(|(wi, &w)| {
                let mut rest = w;
                core::iter::from_fn(move || {
                    if rest == 0 {
                        return None;
                    }
                    let b = usize::try_from(rest.trailing_zeros()).unwrap_or(0);
                    rest &= rest - 1;
                    Some(wi * 64 + b)
                })
            })
    }
}

/// Up to this many names, [`Names::id`] compares names instead of hashing.
const LINEAR_LOOKUP: usize = 8;

/// Names interned to dense ids.
#[derive(Debug, Default, Clone)]
pub struct Names {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, usize>,
}

impl Names {
    /// Adds a name; `false` if it was already there.
    pub fn add(&mut self, name: &str) -> bool {
        if self.ids.contains_key(name) {
            return false;
        }
        self.ids.insert(name.into(), self.names.len());
        self.names.push(name.into());
        true
    }

    /// The id of `name`. Among a few names, comparing them in turn is cheaper than hashing
    /// `name` (SipHash, keyed per process) and finds the same id.
    pub fn id(&self, name: &str) -> Option<usize> {
        if self.names.len() <= LINEAR_LOOKUP {
            return self.names.iter().position(|n| **n == *name);
        }
        self.ids.get(name).copied()
    }

    /// The name of `id`.
    pub fn name(&self, id: usize) -> &str {
        self.names.get(id).map_or("", |n| n)
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names of the members of `bits`.
    pub fn names_of<'a>(&'a self, bits: &'a Bits) -> impl Iterator<Item = &'a str> + 'a {
        bits.iter().map(|i| self.name(i))
    }
}

/// The compiled role hierarchy.
#[derive(Debug, Default, Clone)]
pub struct Roles {
    /// Role names.
    pub names: Names,
    /// Per role: itself and every role it inherits, transitively.
    pub closure: Vec<Bits>,
    /// Per role: the permissions of its closure.
    pub grants: Vec<Bits>,
}

impl Roles {
    /// The effective roles (closure) and permissions of a set of directly held roles.
    pub fn effective(&self, held: &Bits) -> (Bits, Bits) {
        let mut roles = Bits::default();
        let mut perms = Bits::default();
        for r in held.iter() {
            if let (Some(c), Some(g)) = (self.closure.get(r), self.grants.get(r)) {
                roles.union_with(c);
                perms.union_with(g);
            }
        }
        (roles, perms)
    }

    /// Those of `roles` whose every permission is in `perms`.
    pub fn within(&self, roles: &Bits, perms: &Bits) -> Bits {
        let mut kept = Bits::default();
        for r in roles.iter() {
            if self.grants.get(r).is_some_and(|g| perms.contains_all(g)) {
                kept.insert(r);
            }
        }
        kept
    }
}

/// A role definition before compilation: name, inherited role names, granted permission ids.
pub struct RoleSpec<'a> {
    /// The role's name.
    pub name: &'a str,
    /// The roles it includes.
    pub inherits: Vec<&'a str>,
    /// Its own permissions.
    pub grants: Bits,
}

/// Compiles roles: resolves inheritance, rejects unknown parents and cycles (naming the role and
/// the cycle), and precomputes closures. Errors are `(role index, message)`.
pub fn compile(specs: &[RoleSpec<'_>]) -> Result<Roles, (usize, String)> {
    if specs.len() > MAX_BITS {
        return Err((MAX_BITS, format!("more than the limit of {MAX_BITS} roles")));
    }
    let mut names = Names::default();
    for (i, s) in specs.iter().enumerate() {
        if !names.add(s.name) {
            return Err((i, format!("role {:?} is defined twice", s.name)));
        }
    }
    let mut parents: Vec<Vec<usize>> = Vec::with_capacity(specs.len());
    for (i, s) in specs.iter().enumerate() {
        let mut p = Vec::new();
        for parent in &s.inherits {
            p.push(
                names
                    .id(parent)
                    .ok_or_else(|| (i, format!("inherits unknown role {parent:?}")))?,
            );
        }
        parents.push(p);
    }
    // Depth-first closure with cycle detection: 0 = unvisited, 1 = on the stack, 2 = done.
    let n = specs.len();
    let mut state = vec![0u8; n];
    let mut closure = vec![Bits::default(); n];
    let mut grants = vec![Bits::default(); n];
    fn visit(
        r: usize,
        parents: &[Vec<usize>],
        specs: &[RoleSpec<'_>],
        state: &mut [u8],
        closure: &mut [Bits],
        grants: &mut [Bits],
        path: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match state.get(r) {
            Some(2) => return Ok(()),
            Some(1) => {
                let start = path.iter().position(|&x| x == r).unwrap_or(0);
                let mut cycle: Vec<usize> = path.get(start..).unwrap_or_default().to_vec();
                cycle.push(r);
                return Err(cycle);
            }
            _ => {}
        }
        if let Some(s) = state.get_mut(r) {
            *s = 1;
        }
        path.push(r);
        let mut c = Bits::default();
        c.insert(r);
        let mut g = specs.get(r).map(|s| s.grants).unwrap_or_default();
        for &p in parents.get(r).map(Vec::as_slice).unwrap_or_default() {
            visit(p, parents, specs, state, closure, grants, path)?;
            if let (Some(pc), Some(pg)) = (closure.get(p), grants.get(p)) {
                c.union_with(pc);
                g.union_with(pg);
            }
        }
        path.pop();
        if let (Some(s), Some(cl), Some(gr)) =
            (state.get_mut(r), closure.get_mut(r), grants.get_mut(r))
        {
            *s = 2;
            *cl = c;
            *gr = g;
        }
        Ok(())
    }
    for r in 0..n {
        let mut path = Vec::new();
        visit(
            r,
            &parents,
            specs,
            &mut state,
            &mut closure,
            &mut grants,
            &mut path,
        )
        .map_err(|cycle| {
            let names_in_cycle: Vec<&str> = cycle.iter().map(|&i| names.name(i)).collect();
            // The error names a role in the cycle (the walk may have started outside it).
            (
                cycle.first().copied().unwrap_or(r),
                format!(
                    "role hierarchy has a cycle: {}",
                    names_in_cycle.join(" -> ")
                ),
            )
        })?;
    }
    Ok(Roles {
        names,
        closure,
        grants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(ids: &[usize]) -> Bits {
        let mut b = Bits::default();
        for &i in ids {
            b.insert(i);
        }
        b
    }

    /// Lookups agree with the order names were added, on both sides of the linear-lookup bound:
    /// every name finds its id; prefixes, extensions and other cases find none.
    #[test]
    fn names_find_their_ids_however_many_there_are() {
        for count in 0..=LINEAR_LOOKUP * 2 + 1 {
            let mut names = Names::default();
            for i in 0..count {
                assert!(names.add(&format!("role-{i}")));
            }
            assert!(count == 0 || !names.add("role-0"), "a name is added once");
            for i in 0..count {
                assert_eq!(names.id(&format!("role-{i}")), Some(i), "{count} names");
                assert_eq!(names.name(i), format!("role-{i}"));
            }
            for absent in ["", "role-", "role-00", "Role-1", "role-1 ", "role-99"] {
                assert_eq!(names.id(absent), None, "{absent:?} among {count} names");
            }
        }
    }

    #[test]
    fn hierarchy_closure_and_effective_permissions() {
        // viewer: read(0); member: write(1); admin: manage(2); owner: delete(3).
        let specs = vec![
            RoleSpec {
                name: "owner",
                inherits: vec!["admin"],
                grants: bits(&[3]),
            },
            RoleSpec {
                name: "admin",
                inherits: vec!["member"],
                grants: bits(&[2]),
            },
            RoleSpec {
                name: "member",
                inherits: vec!["viewer"],
                grants: bits(&[1]),
            },
            RoleSpec {
                name: "viewer",
                inherits: vec![],
                grants: bits(&[0]),
            },
        ];
        let roles = compile(&specs).unwrap();
        let (r, p) = roles.effective(&bits(&[1]));
        assert_eq!(
            roles.names.names_of(&r).collect::<Vec<_>>(),
            ["admin", "member", "viewer"]
        );
        assert_eq!(p, bits(&[0, 1, 2]));
        let (_, viewer) = roles.effective(&bits(&[3]));
        assert_eq!(viewer, bits(&[0]));
        assert!(p.contains_all(&bits(&[0, 2])));
        assert!(!viewer.contains_all(&bits(&[0, 2])));
        assert_eq!(viewer.missing_from(&bits(&[0, 2])), bits(&[2]));
    }

    #[test]
    fn cycles_and_unknown_parents_are_named() {
        let specs = vec![
            RoleSpec {
                name: "a",
                inherits: vec!["b"],
                grants: Bits::default(),
            },
            RoleSpec {
                name: "b",
                inherits: vec!["c"],
                grants: Bits::default(),
            },
            RoleSpec {
                name: "c",
                inherits: vec!["a"],
                grants: Bits::default(),
            },
        ];
        let (at, msg) = compile(&specs).unwrap_err();
        assert_eq!(at, 0);
        assert!(msg.contains("a -> b -> c -> a"), "{msg}");
        let specs = vec![RoleSpec {
            name: "a",
            inherits: vec!["zz"],
            grants: Bits::default(),
        }];
        assert_eq!(
            compile(&specs).unwrap_err(),
            (0, "inherits unknown role \"zz\"".to_owned())
        );
    }

    #[test]
    fn bit_operations_span_words() {
        let b = bits(&[0, 63, 64, 1023]);
        assert_eq!(b.iter().collect::<Vec<_>>(), [0, 63, 64, 1023]);
        assert!(b.contains(1023) && !b.contains(1022));
        assert!(b.intersects(&bits(&[64])) && !b.intersects(&bits(&[65])));
    }
}
