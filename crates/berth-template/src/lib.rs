//! Go text/template semantics in Rust, with the Sprig function library and Helm's template functions: the engine that renders Helm charts and berth's own templates.
