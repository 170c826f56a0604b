//! Routes: method + path template → requirement, compiled into a radix-tree router (`matchit`), so
//! a lookup costs the same with ten routes or ten thousand.

use crate::principal::PrincipalKind;
use crate::roles::Bits;
use std::collections::HashMap;

/// What a route requires beyond authentication.
#[derive(Debug, Default, Clone)]
pub struct Requirement {
    /// Every one of these permissions.
    pub all: Bits,
    /// At least one permission of each group.
    pub any: Vec<Bits>,
}

impl Requirement {
    /// Whether `perms` satisfies the requirement.
    pub fn satisfied_by(&self, perms: &Bits) -> bool {
        perms.contains_all(&self.all) && self.any.iter().all(|g| perms.intersects(g))
    }

    /// The permissions to name in an `insufficient_scope` challenge: the missing all-of
    /// permissions, and every member of each unsatisfied any-of group.
    pub fn missing(&self, perms: &Bits) -> Bits {
        let mut out = perms.missing_from(&self.all);
        for g in &self.any {
            if !perms.intersects(g) {
                out.union_with(g);
            }
        }
        out
    }

    /// Whether the route needs no permission at all.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty() && self.any.is_empty()
    }
}

/// A compiled route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Its position in the policy's `routes`.
    pub index: usize,
    /// The path template as written.
    pub template: String,
    /// No credential needed.
    pub public: bool,
    /// Tenant-scoped.
    pub tenant: bool,
    /// Permissions needed.
    pub requirement: Requirement,
    /// Principal kinds allowed (`None`: all).
    pub principals: Option<Vec<PrincipalKind>>,
    /// Provider ids allowed (`None`: all).
    pub providers: Option<Vec<usize>>,
}

/// The router: path templates in a radix tree, methods per template.
#[derive(Default)]
pub struct Router {
    tree: matchit::Router<usize>,
    /// The same templates folded as a lenient upstream folds a path ([`fold`]), to find the
    /// route such an upstream would serve a differently spelled path.
    folded: matchit::Router<usize>,
    /// Whether folding a path this router matches can take it to another template: some
    /// template has an uppercase letter or a trailing slash, or a parameter beside a static
    /// segment (`/docs/{id}` and `/docs/export`: `/docs/EXPORT` is the first here and the second
    /// folded). Without, only a path no template names needs folding to check.
    fold_can_move: bool,
    /// Per template prefix (statics lowercased, parameters as `{}`), what the next segment is
    /// across templates: 1 a static, 2 a parameter.
    next_segments: HashMap<String, u8>,
    by_template: HashMap<String, usize>,
    entries: Vec<Vec<(String, Route)>>,
}

/// A path as an upstream that routes case-insensitively and ignores a trailing slash (Express's
/// defaults, Spring before 6, ASP.NET) reads it: ASCII letters lowercased, one trailing `/`
/// dropped. `None` when that is the path itself.
pub fn fold(path: &str) -> Option<String> {
    let mut out = String::new();
    fold_into(path, &mut out).then_some(out)
}

/// [`fold`] into `out` (cleared first, so a reused buffer does not allocate); false, with `out`
/// left empty, when the folded path is the path itself.
fn fold_into(path: &str, out: &mut String) -> bool {
    out.clear();
    let trimmed = match path.strip_suffix('/') {
        Some(t) if !t.is_empty() => t,
        _ => path,
    };
    if trimmed.len() == path.len() && !path.bytes().any(|b| b.is_ascii_uppercase()) {
        return false;
    }
    out.push_str(trimmed);
    out.make_ascii_lowercase();
    true
}

impl core::fmt::Debug for Router {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Router")
            .field("templates", &self.entries.len())
            .finish()
    }
}

/// A matched route and its path parameters.
pub struct Matched<'r, 'p> {
    /// The route.
    pub route: &'r Route,
    /// Its template's number in this router (see [`Router::folded_elsewhere`]).
    pub template: usize,
    /// Path parameters.
    pub params: matchit::Params<'r, 'p>,
}

impl Router {
    /// Adds a route for `methods` (or `*`). Conflicting templates and duplicate method + path pairs
    /// are errors.
    pub fn insert(
        &mut self,
        template: &str,
        methods: &[String],
        route: Route,
    ) -> Result<(), String> {
        if !template.starts_with('/') {
            return Err(format!("path {template:?} must start with '/'"));
        }
        check_params(template)?;
        let idx = match self.by_template.get(template) {
            Some(&i) => i,
            None => {
                let i = self.entries.len();
                self.tree
                    .insert(template, i)
                    .map_err(|e| format!("path {template:?}: {e}"))?;
                let folded = fold(template).unwrap_or_else(|| template.to_owned());
                self.note_shape(template);
                self.folded.insert(&folded, i).map_err(|e| {
                    format!(
                        "path {template:?} is another route's once letters are lowercased and a \
                         trailing slash dropped ({e}): an upstream that folds paths would take \
                         one for the other"
                    )
                })?;
                self.by_template.insert(template.to_owned(), i);
                self.entries.push(Vec::new());
                i
            }
        };
        let entry = self.entries.get_mut(idx).ok_or("internal: router entry")?;
        for m in methods {
            if entry.iter().any(|(x, _)| x == m) {
                return Err(format!("duplicate route: {m} {template}"));
            }
            entry.push((m.clone(), route.clone()));
        }
        Ok(())
    }

    /// Finds the route for `method` and `path` (exact method first, then `*`).
    pub fn at<'r, 'p>(&'r self, method: &str, path: &'p str) -> Option<Matched<'r, 'p>> {
        let m = self.tree.at(path).ok()?;
        let entry = self.entries.get(*m.value)?;
        let route = entry
            .iter()
            .find(|(x, _)| x == method)
            .or_else(|| entry.iter().find(|(x, _)| x == "*"))
            .map(|(_, r)| r)?;
        Some(Matched {
            route,
            template: *m.value,
            params: m.params,
        })
    }

    /// Records `template`'s shape for [`Router::fold_can_move`].
    fn note_shape(&mut self, template: &str) {
        if template.bytes().any(|b| b.is_ascii_uppercase())
            || (template.len() > 1 && template.ends_with('/'))
        {
            self.fold_can_move = true;
        }
        let mut prefix = String::new();
        for segment in template.split('/').skip(1) {
            let whole_param = segment.starts_with('{')
                && segment.ends_with('}')
                && segment.matches('{').count() == 1;
            if segment.contains('{') && !whole_param {
                // Text around a parameter (`{name}.json`, `v{version}`, `{{`): matchit prefers
                // such a segment to a plain parameter beside it, which folding can move between.
                self.fold_can_move = true;
            }
            let kind = if segment.contains('{') { 2 } else { 1 };
            let seen = self.next_segments.entry(prefix.clone()).or_insert(0);
            *seen |= kind;
            if *seen == 3 {
                self.fold_can_move = true;
            }
            prefix.push('/');
            if kind == 2 {
                prefix.push_str("{}");
            } else {
                prefix.push_str(&segment.to_ascii_lowercase());
            }
        }
    }

    /// The number of the template `path` matches as written, whatever the method.
    pub fn template_at(&self, path: &str) -> Option<usize> {
        self.tree.at(path).ok().map(|m| *m.value)
    }

    /// The route needing a credential that an upstream folding paths ([`fold`]) would serve for
    /// `method` and `path`, when its template is not the one `path` matches as written
    /// (`exact`, a template number; `None` for none): the path is another spelling of that
    /// protected route. `buf` holds the folded path (a buffer reused across calls, so that this
    /// does not allocate).
    pub fn folded_elsewhere(
        &self,
        method: &str,
        path: &str,
        exact: Option<usize>,
        buf: &mut String,
    ) -> Option<&Route> {
        if exact.is_some() && !self.fold_can_move {
            return None;
        }
        // The folded templates are looked up even when folding leaves the path as it is: a
        // template folded (`/admin/`, `/Admin/Users`) may be what the path names.
        let folded = if fold_into(path, buf) {
            buf.as_str()
        } else {
            path
        };
        let m = self.folded.at(folded).ok()?;
        if exact == Some(*m.value) {
            return None;
        }
        let entry = self.entries.get(*m.value)?;
        // The route for this method, and for `HEAD` without one the `GET` route, whose handler
        // many frameworks run for it.
        let route = entry
            .iter()
            .find(|(x, _)| x == method)
            .or_else(|| entry.iter().find(|(x, _)| x == "*"))
            .or_else(|| {
                (method == "HEAD")
                    .then(|| entry.iter().find(|(x, _)| x == "GET"))
                    .flatten()
            })
            .map(|(_, r)| r)?;
        (!route.public).then_some(route)
    }

    /// Number of distinct path templates.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no routes.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The most parameters one path template may hold.
pub const MAX_PARAMS: usize = 16;

/// A template's parameters (`{id}`, `{*rest}`; `{{` and `}}` are literal braces) are at most
/// [`MAX_PARAMS`] and each named once: the router would panic past 26, and a name given twice
/// reads as the first value here and as the last in many upstreams.
fn check_params(template: &str) -> Result<(), String> {
    param_names(template).map(|_| ())
}

/// The names of a template's parameters (`id` for `{id}`, `rest` for `{*rest}`), checked as
/// [`check_params`] says.
pub fn param_names(template: &str) -> Result<Vec<&str>, String> {
    let mut names: Vec<&str> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = rest.get(open + 1..).unwrap_or_default();
        if let Some(literal) = after.strip_prefix('{') {
            rest = literal;
            continue;
        }
        let Some(close) = after.find('}') else {
            break; // the router names the unclosed brace
        };
        let name = after.get(..close).unwrap_or_default();
        let name = name.strip_prefix('*').unwrap_or(name);
        if names.contains(&name) {
            return Err(format!(
                "path {template:?} names the parameter {{{name}}} twice"
            ));
        }
        names.push(name);
        if names.len() > MAX_PARAMS {
            return Err(format!(
                "path {template:?} has more than the limit of {MAX_PARAMS} parameters"
            ));
        }
        rest = after.get(close + 1..).unwrap_or_default();
    }
    Ok(names)
}
