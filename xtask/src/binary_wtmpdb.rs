//! The wtmpdb row (`ssh>rsshd:admin-wtmpdb`): Debian 13 and later record
//! logins in wtmpdb, read by `wtmpdb last` (their `last`), and Debian's
//! sshd writes it through libwtmpdb. A terminal session (`ssh -tt`) is a
//! row with the user, the session's `pts/N` and the client's address and
//! no service, "still logged in" while it runs and given its logout time
//! after; a command without a terminal is no row. Releases without
//! wtmpdb (Debian 12) are n/a.
//!
//! Validated with OpenSSH's `sshd` in place of `rsshd`
//! (`XTASK_RSSHD=peer:/usr/sbin/sshd`): the same row passes.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bail;
use crate::binary_setup::*;
use crate::interop::Ctx;
use crate::util::{self, Context, Result};

/// One line of `wtmpdb last` for the row's user.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    user: String,
    tty: String,
    host: String,
    /// The PAM service (blank when none was given).
    service: String,
    login: String,
    /// A time, or "still logged in".
    logout: String,
}

impl Entry {
    fn open(&self) -> bool {
        self.logout.starts_with("still logged in")
    }
}

/// `wtmpdb last` for the row's user, newest first.
fn last(ctx: &Ctx<'_>) -> Result<Vec<Entry>> {
    let out = util::checked_output(&mut ctx.backend.command(
        "wtmpdb",
        &["last", "-j", "-S", "-w", "--time-format", "iso", USER],
    ))?;
    let json: Value = serde_json::from_slice(&out.stdout).context(format_args!(
        "`wtmpdb last -j` printed no JSON: {}",
        String::from_utf8_lossy(&out.stdout)
    ))?;
    let field = |e: &Value, name: &str| {
        e.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    Ok(json
        .get("entries")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|e| Entry {
            user: field(e, "user"),
            tty: field(e, "tty"),
            host: field(e, "hostname"),
            service: field(e, "service"),
            login: field(e, "login"),
            logout: field(e, "logout"),
        })
        .collect())
}

/// The newest entries, for a failure's message.
fn newest(entries: &[Entry]) -> &[Entry] {
    entries.get(..3).unwrap_or(entries)
}

/// The newest entry once there are `count` and `done` holds of it.
fn wait_for(
    ctx: &Ctx<'_>,
    count: usize,
    wait: Duration,
    done: impl Fn(&Entry) -> bool,
) -> Result<std::result::Result<Entry, Vec<Entry>>> {
    let deadline = Instant::now() + wait;
    loop {
        let entries = last(ctx)?;
        if entries.len() == count
            && let Some(e) = entries.first()
            && done(e)
        {
            return Ok(Ok(e.clone()));
        }
        if Instant::now() > deadline {
            return Ok(Err(entries));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wtmpdb(ctx: &mut Ctx<'_>) -> Result<()> {
    let has = ctx
        .backend
        .command("sh", &["-c", "command -v wtmpdb"])
        .output()
        .context("looking for wtmpdb")?;
    if !has.status.success() {
        return Err(crate::interop::skip(
            "no wtmpdb here (Debian 13's `last`; Debian 12 has no libwtmpdb)",
        ));
    }
    let setup = crate::binary_admin::key_account(ctx)?;
    let before = last(ctx)?.len();
    let server = setup.start(ctx, &Srv::default())?;
    let call = Call::remote("tty; sleep 3")
        .opt("-tt")
        .opt("-i")
        .opt(&setup.client("id"));
    let client = setup
        .command(ctx, server.port(), &call)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the client")?;
    // While the session runs: its row, still logged in.
    let during = wait_for(ctx, before + 1, Duration::from_secs(20), Entry::open);
    let out = client.wait_with_output().context("the client")?;
    let tty = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let during = match during? {
        Ok(e) => e,
        Err(entries) => bail!(
            "no open wtmpdb entry for {USER} while the session ran (had {before}, now {}); \
             `wtmpdb last {USER}` begins {:?}; the session printed {tty:?}; its stderr: {}",
            entries.len(),
            newest(&entries),
            tail(&out.stderr)
        ),
    };
    if !out.status.success() {
        bail!("the session failed: {}", tail(&out.stderr));
    }
    let Some(line) = tty.strip_prefix("/dev/").filter(|l| l.starts_with("pts/")) else {
        bail!("the session's tty: {tty:?}");
    };
    if during.user != USER
        || during.tty != line
        || during.host != "127.0.0.1"
        || !during.service.is_empty()
    {
        bail!(
            "the session's entry {during:?}: expected {USER} on {line} from 127.0.0.1, no service"
        );
    }
    // After: the same row with its logout time (written as the session
    // ends: give it a moment).
    let after = match wait_for(ctx, before + 1, Duration::from_secs(10), |e| !e.open())? {
        Ok(e) => e,
        Err(entries) => bail!(
            "the session's wtmpdb entry has no logout time after it ended: {:?}",
            newest(&entries)
        ),
    };
    let same_row = Entry {
        logout: during.logout.clone(),
        ..after.clone()
    } == during;
    if after.logout.is_empty() || !same_row {
        bail!("after the session: {after:?}; while it ran: {during:?}");
    }
    // A command without a terminal is not recorded.
    let plain = Call::remote("true").opt("-i").opt(&setup.client("id"));
    setup.run_ok(ctx, server.port(), &plain)?;
    std::thread::sleep(Duration::from_secs(1));
    let entries = last(ctx)?;
    if entries.len() != before + 1 {
        bail!(
            "a command without a terminal changed wtmpdb ({} entries, not {}): {:?}",
            entries.len(),
            before + 1,
            newest(&entries)
        );
    }
    Ok(())
}

/// A row's function.
type RowFn = fn(&mut Ctx<'_>) -> Result<()>;

/// The rows: (name, about, function).
pub(crate) const ROWS: &[(&str, &str, RowFn)] = &[(
    "admin-wtmpdb",
    "ssh -tt: `wtmpdb last` has the user on pts/N from 127.0.0.1, still logged in, then with a logout time; not a command without a terminal; n/a without wtmpdb (bookworm)",
    wtmpdb,
)];
