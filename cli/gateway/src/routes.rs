//! The route table: which function answers a method and path, and the 404 / 405 when none does
//! (docs/triggers.md, "A local API Gateway: scfrt start-api", which gives the source of each
//! rule).

use std::fmt;

/// One API: a method and path template bound to a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The index of the function in [`crate::GatewayConfig::functions`].
    pub function: usize,
    /// The path template, `/users/{id}`.
    pub path: String,
    /// The method in upper case; `ANY` matches every method.
    pub method: String,
    /// Whether the function's result is an integrated response.
    pub integrated_response: bool,
    /// The release environment (`requestContext.stage`).
    pub stage: String,
    /// The API Gateway service id (`requestContext.serviceId`).
    pub service_id: String,
}

/// Two routes with the same method and the same path (parameter names aside).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("two APIs have the same method and path: {method} {path} and {method} {other}")]
pub struct DuplicateRoute {
    /// The method.
    pub method: String,
    /// The first route's path.
    pub path: String,
    /// The second route's path.
    pub other: String,
}

/// What a request matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match<'a> {
    /// A route, with the values of its path parameters.
    Route(&'a Route, Vec<(String, String)>),
    /// A path that routes declare, but not for this method; the methods they allow.
    MethodNotAllowed(Vec<String>),
    /// No route for this path.
    NotFound,
}

/// The routes, checked for duplicates.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// A template's shape for comparison: its segments with every `{name}` as `{}`.
fn shape(path: &str) -> Vec<&str> {
    segments(path)
        .into_iter()
        .map(|s| if is_param(s) { "{}" } else { s })
        .collect()
}

fn segments(path: &str) -> Vec<&str> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

fn is_param(segment: &str) -> bool {
    segment.len() > 2 && segment.starts_with('{') && segment.ends_with('}')
}

impl RouteTable {
    /// The table of `routes`.
    ///
    /// # Errors
    /// Two routes share a method and a path shape (`/users/{id}` and `/users/{uid}` are one
    /// path).
    pub fn new(routes: Vec<Route>) -> Result<RouteTable, DuplicateRoute> {
        for (i, a) in routes.iter().enumerate() {
            for b in &routes[i + 1..] {
                if a.method == b.method && shape(&a.path) == shape(&b.path) {
                    return Err(DuplicateRoute {
                        method: a.method.clone(),
                        path: a.path.clone(),
                        other: b.path.clone(),
                    });
                }
            }
        }
        Ok(RouteTable { routes })
    }

    /// The routes, in the order given.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route for `method` and `path`.
    ///
    /// A template matches a path of as many segments whose literal segments are equal; among
    /// those, the one with the fewest parameters wins, and for it a route of the exact method
    /// beats `ANY`. When no template matches, a template without parameters whose segments
    /// begin the path matches it as a prefix, the longest first (`/static` answers
    /// `/static/a.css`; `/` answers every path).
    pub fn find(&self, method: &str, path: &str) -> Match<'_> {
        let segs = segments(path);
        let full: Vec<(&Route, Vec<(String, String)>)> = self
            .routes
            .iter()
            .filter_map(|r| params(&segments(&r.path), &segs).map(|p| (r, p)))
            .collect();
        if let Some(fewest) = full.iter().map(|(_, p)| p.len()).min() {
            let best: Vec<&(&Route, Vec<(String, String)>)> =
                full.iter().filter(|(_, p)| p.len() == fewest).collect();
            return pick(method, &best);
        }
        let longest = self
            .routes
            .iter()
            .filter(|r| {
                let t = segments(&r.path);
                !t.iter().any(|s| is_param(s)) && segs.len() > t.len() && segs.starts_with(&t)
            })
            .map(|r| segments(&r.path).len())
            .max();
        let Some(longest) = longest else {
            return Match::NotFound;
        };
        let prefixed: Vec<(&Route, Vec<(String, String)>)> = self
            .routes
            .iter()
            .filter(|r| {
                let t = segments(&r.path);
                t.len() == longest && !t.iter().any(|s| is_param(s)) && segs.starts_with(&t)
            })
            .map(|r| (r, Vec::new()))
            .collect();
        let best: Vec<&(&Route, Vec<(String, String)>)> = prefixed.iter().collect();
        pick(method, &best)
    }
}

/// Among routes matching the path equally well: the exact method, else `ANY`, else 405.
fn pick<'a>(method: &str, candidates: &[&(&'a Route, Vec<(String, String)>)]) -> Match<'a> {
    let by = |m: &str| {
        candidates
            .iter()
            .find(|(r, _)| r.method == m)
            .map(|(r, p)| Match::Route(r, p.clone()))
    };
    if let Some(m) = by(method).or_else(|| by("ANY")) {
        return m;
    }
    let mut allowed: Vec<String> = candidates.iter().map(|(r, _)| r.method.clone()).collect();
    allowed.sort();
    allowed.dedup();
    Match::MethodNotAllowed(allowed)
}

/// The values of `template`'s parameters in `path`, or `None` when they do not match.
fn params(template: &[&str], path: &[&str]) -> Option<Vec<(String, String)>> {
    if template.len() != path.len() {
        return None;
    }
    let mut out = Vec::new();
    for (t, p) in template.iter().zip(path) {
        if is_param(t) {
            if p.is_empty() {
                return None;
            }
            out.push((t[1..t.len() - 1].to_owned(), (*p).to_owned()));
        } else if t != p {
            return None;
        }
    }
    Some(out)
}

impl fmt::Display for RouteTable {
    /// One line per route: method, path, and what answers it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.routes {
            writeln!(
                f,
                "  {:<7} {:<30} function #{} stage {} integrated response {}",
                r.method,
                r.path,
                r.function,
                r.stage,
                if r.integrated_response { "on" } else { "off" }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(function: usize, method: &str, path: &str) -> Route {
        Route {
            function,
            path: path.into(),
            method: method.into(),
            integrated_response: true,
            stage: "release".into(),
            service_id: "service-x".into(),
        }
    }

    fn found(m: Match<'_>) -> (usize, Vec<(String, String)>) {
        match m {
            Match::Route(r, p) => (r.function, p),
            other => panic!("no route: {other:?}"),
        }
    }

    #[test]
    fn templates_literals_any_and_prefixes() {
        let t = RouteTable::new(vec![
            route(0, "GET", "/users/{id}"),
            route(1, "GET", "/users/me"),
            route(2, "ANY", "/users/{id}"),
            route(3, "POST", "/static"),
        ])
        .expect("no duplicates");
        assert_eq!(found(t.find("GET", "/users/me")), (1, vec![]));
        assert_eq!(
            found(t.find("GET", "/users/42")),
            (0, vec![("id".into(), "42".into())])
        );
        assert_eq!(found(t.find("DELETE", "/users/42")).0, 2);
        assert_eq!(found(t.find("POST", "/static/a/b.css")).0, 3);
        assert_eq!(
            t.find("GET", "/static/a.css"),
            Match::MethodNotAllowed(vec!["POST".into()])
        );
        assert_eq!(t.find("GET", "/nope"), Match::NotFound);
        assert_eq!(t.find("GET", "/users"), Match::NotFound);
    }

    #[test]
    fn root_answers_every_path() {
        let t = RouteTable::new(vec![route(0, "ANY", "/")]).expect("ok");
        assert_eq!(found(t.find("PATCH", "/")).0, 0);
        assert_eq!(found(t.find("GET", "/a/b/c")).0, 0);
    }

    #[test]
    fn duplicates_are_refused_whatever_the_parameter_names() {
        let e = RouteTable::new(vec![
            route(0, "GET", "/users/{id}"),
            route(1, "GET", "/users/{uid}/"),
        ])
        .expect_err("duplicate");
        assert_eq!(e.method, "GET");
        assert!(RouteTable::new(vec![route(0, "GET", "/a"), route(1, "ANY", "/a")]).is_ok());
    }
}
