//! Post-renderers, as Helm's `--post-renderer EXECUTABLE [--post-renderer-args ARG]...`:
//! the rendered manifests go to the program's stdin and its stdout replaces them.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How much of a failing post-renderer's stderr an error quotes.
const STDERR_LIMIT: usize = 4096;
/// The most output a post-renderer may print (a runaway program stops here).
const OUTPUT_LIMIT: u64 = 256 << 20;

/// Why a post-renderer could not replace the manifests. Nothing rendered is kept.
#[derive(Debug, thiserror::Error)]
pub enum PostRenderError {
    /// The program does not exist.
    #[error(
        "post-renderer {0} not found: pass the path of an executable program (or a name on PATH)"
    )]
    NotFound(PathBuf),
    /// The file exists but may not be executed.
    #[error("post-renderer {0} is not executable: make it executable (chmod +x {0})")]
    NotExecutable(PathBuf),
    /// Starting or talking to the program failed.
    #[error("post-renderer {program}: {message}")]
    Io {
        /// The program.
        program: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The program exited non-zero.
    #[error(
        "post-renderer {program} failed ({status}); its stderr:\n{stderr}\nfix the program or its arguments (--post-renderer-args)"
    )]
    Failed {
        /// The program.
        program: PathBuf,
        /// Its exit status.
        status: String,
        /// The start of its stderr.
        stderr: String,
    },
    /// The program printed something that is not YAML documents.
    #[error(
        "post-renderer {program} printed invalid YAML in document {doc}: {message}\nit must print Kubernetes objects as YAML documents separated by ---"
    )]
    InvalidYaml {
        /// The program.
        program: PathBuf,
        /// The 1-based document number in its output.
        doc: usize,
        /// The parser's message.
        message: String,
    },
}

/// Runs `program args...` with `manifests` on stdin and returns its stdout, checked to be
/// YAML documents.
pub fn post_render(
    manifests: &str,
    program: &Path,
    args: &[String],
) -> Result<String, PostRenderError> {
    let io = |e: std::io::Error| PostRenderError::Io {
        program: program.to_owned(),
        message: e.to_string(),
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PostRenderError::NotFound(program.to_owned()),
            std::io::ErrorKind::PermissionDenied => {
                PostRenderError::NotExecutable(program.to_owned())
            }
            _ => io(e),
        })?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| io(std::io::Error::other("no stdin")))?;
    let input = manifests.to_owned();
    // Feed stdin from a thread so a program that writes before reading cannot deadlock.
    let writer = std::thread::spawn(move || {
        // A program that exits without reading everything is judged by its exit status.
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut out = Vec::new();
    let mut err = Vec::new();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr {
            let _ = s.take(OUTPUT_LIMIT).read_to_end(&mut buf);
        }
        buf
    });
    if let Some(s) = stdout {
        s.take(OUTPUT_LIMIT).read_to_end(&mut out).map_err(io)?;
    }
    err.extend(err_reader.join().unwrap_or_default());
    let status = child.wait().map_err(io)?;
    let _ = writer.join();
    if !status.success() {
        let text = String::from_utf8_lossy(&err);
        let mut stderr: String = text.chars().take(STDERR_LIMIT).collect();
        if stderr.len() < text.len() {
            stderr.push_str("\n[… stderr cut]");
        }
        return Err(PostRenderError::Failed {
            program: program.to_owned(),
            status: status.to_string(),
            stderr: stderr.trim_end().to_owned(),
        });
    }
    let text = String::from_utf8(out).map_err(|_| PostRenderError::InvalidYaml {
        program: program.to_owned(),
        doc: 1,
        message: "output is not UTF-8".into(),
    })?;
    for (i, doc) in crate::split_manifests(&text).into_iter().enumerate() {
        crate::parse_object(doc).map_err(|message| PostRenderError::InvalidYaml {
            program: program.to_owned(),
            doc: i + 1,
            message,
        })?;
    }
    Ok(text)
}
