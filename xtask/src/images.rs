//! OpenSSH peer images: Debian root filesystems built with mmdebstrap and
//! cached under `target/openssh-images/<release>/`.
//!
//! Layout of one image:
//! - `rootfs/`: the root filesystem (a directory, not a tarball);
//! - `image.json`: the marker, written last, only after a successful build,
//!   with the OpenSSH version found inside. No marker means a half-built
//!   image, which the next build removes and rebuilds.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::bail;
use crate::util::{self, Context, Result};

/// The Debian releases we test against, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Release {
    /// Debian 12: OpenSSH 9.2.
    Bookworm,
    /// Debian 13: OpenSSH 10.0.
    Trixie,
    /// Debian unstable: the newest OpenSSH packaged.
    Sid,
}

impl Release {
    /// Every release, oldest first.
    pub const ALL: [Self; 3] = [Self::Bookworm, Self::Trixie, Self::Sid];

    /// The Debian code name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bookworm => "bookworm",
            Self::Trixie => "trixie",
            Self::Sid => "sid",
        }
    }

    /// The mmdebstrap arguments for this release, output directory last.
    pub fn mmdebstrap_args(self, out: &Path) -> Vec<String> {
        let mut args = vec![
            "--variant=apt".to_owned(),
            format!("--include={}", self.packages().join(",")),
        ];
        if self == Self::Sid {
            // Unstable's Release file may be past its Valid-Until on a
            // machine whose mirror lags.
            args.push("--aptopt=Acquire::Check-Valid-Until \"false\"".to_owned());
        }
        args.push(self.as_str().to_owned());
        args.push(out.to_string_lossy().into_owned());
        args
    }

    /// The packages installed on top of the `apt` variant: [`PACKAGES`],
    /// then those of [`RELEASE_PACKAGES`] this release has.
    pub fn packages(self) -> Vec<&'static str> {
        let only_some = RELEASE_PACKAGES
            .iter()
            .filter(|(_, releases)| releases.contains(&self))
            .map(|(package, _)| *package);
        PACKAGES.into_iter().chain(only_some).collect()
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The packages installed on top of the `apt` variant in every release: OpenSSH, for the
/// X11 forwarding rows `xauth` (sshd and ssh run it) and `x11-utils`
/// (`xdpyinfo` on the server's side), and the other peers: Dropbear
/// (`dbclient`, `dropbear`, `dropbearconvert`), PuTTY (`plink`, `pscp`,
/// `psftp`, `puttygen`), `libssh-4` (driven by a small C client) and
/// `passwd` (the forced password change rows run it; sid's minimal
/// variant lacks it).
pub const PACKAGES: [&str; 8] = [
    "openssh-server",
    "openssh-client",
    "xauth",
    "x11-utils",
    "dropbear-bin",
    "putty-tools",
    "libssh-4",
    "passwd",
];

/// Packages only some releases have: `wtmpdb` (the `wtmpdb` command,
/// Debian 13's `last`: the wtmpdb row reads the logins sshd records
/// through libwtmpdb; Debian 12 has neither).
pub const RELEASE_PACKAGES: &[(&str, &[Release])] = &[("wtmpdb", &[Release::Trixie, Release::Sid])];

/// The marker of a complete image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// The Debian release.
    pub release: String,
    /// OpenSSH's version as in its banner: `OpenSSH_9.2p1 Debian-2+deb12u10`.
    pub openssh: String,
    /// The whole first line of `ssh -V`.
    pub ssh_v: String,
    /// When the build finished, in seconds since the Unix epoch.
    pub built_unix: u64,
    /// How long mmdebstrap took, in seconds.
    pub build_seconds: u64,
    /// The packages installed on top of the variant (older markers have
    /// none: their images get the missing ones added in place).
    #[serde(default)]
    pub packages: Vec<String>,
}

/// A complete image on disk.
#[derive(Clone, Debug)]
pub struct Image {
    /// `target/openssh-images/<release>`.
    pub dir: PathBuf,
    /// What the marker says.
    pub info: ImageInfo,
}

impl Image {
    /// The root filesystem.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The release's packages ([`Release::packages`]) that the marker
    /// does not list.
    pub fn missing_packages(&self, release: Release) -> Vec<&'static str> {
        release
            .packages()
            .into_iter()
            .filter(|p| !self.info.packages.iter().any(|q| q == p))
            .collect()
    }
}

/// Writes the marker of a complete image (through a temporary file).
fn write_marker(dir: &Path, info: &ImageInfo) -> Result<()> {
    let json = serde_json::to_string_pretty(info).context("encoding the marker")?;
    let tmp = dir.join("image.json.tmp");
    fs::write(&tmp, json + "\n").context(format_args!("writing {}", tmp.display()))?;
    let marker = marker_path(dir);
    fs::rename(&tmp, &marker).context(format_args!("writing {}", marker.display()))
}

/// Adds the packages a cached image lacks with its own apt (in place:
/// peers running from it meanwhile are not disturbed), then updates the
/// marker.
fn add_packages(release: Release, mut image: Image, missing: &[&str]) -> Result<Image> {
    if let Some(why) = cannot_build_reason() {
        bail!("the {release} image lacks {}: {why}", missing.join(", "));
    }
    let script = format!(
        "export DEBIAN_FRONTEND=noninteractive; \
         apt-get -o Acquire::Check-Valid-Until=false update -qq && \
         apt-get install -y -qq --no-install-recommends {} >/dev/null && apt-get clean",
        missing.join(" ")
    );
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount -t proc proc \"$0/proc\" && exec chroot \"$0\" sh -c \"$1\"",
    ])
    .arg(image.rootfs())
    .arg(&script);
    println!(
        "{release}: adding {} to the cached image",
        missing.join(", ")
    );
    let start = Instant::now();
    util::checked_output(&mut cmd)?;
    // apt may have upgraded OpenSSH too: the marker names what is there.
    let out = util::output(
        Command::new("chroot")
            .arg(image.rootfs())
            .args(["ssh", "-V"]),
    )?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    if let Some(openssh) = parse_ssh_v(&text) {
        image.info.openssh = openssh.to_owned();
        image.info.ssh_v = text.lines().next().unwrap_or_default().to_owned();
    }
    image.info.packages = release.packages().iter().map(|p| (*p).to_owned()).collect();
    write_marker(&image.dir, &image.info)?;
    println!(
        "{release}: packages added in {}",
        util::secs(start.elapsed())
    );
    Ok(image)
}

/// `target/openssh-images`.
pub fn images_dir() -> PathBuf {
    util::workspace_target().join("openssh-images")
}

fn marker_path(dir: &Path) -> PathBuf {
    dir.join("image.json")
}

/// The complete image of `release`, if one is cached.
pub fn load(release: Release) -> Option<Image> {
    let dir = images_dir().join(release.as_str());
    let text = fs::read_to_string(marker_path(&dir)).ok()?;
    let info: ImageInfo = serde_json::from_str(&text).ok()?;
    dir.join("rootfs/usr/sbin/sshd")
        .is_file()
        .then_some(Image { dir, info })
}

/// Why images cannot be built here, if they cannot.
pub fn cannot_build_reason() -> Option<String> {
    if !util::is_root() {
        return Some("building images needs root (mmdebstrap and unshare run as root)".to_owned());
    }
    if !util::have_program("mmdebstrap") {
        return Some("mmdebstrap is not installed (apt-get install -y mmdebstrap)".to_owned());
    }
    None
}

/// Extracts `OpenSSH_9.2p1 Debian-2+deb12u10` from the output of `ssh -V`
/// (`OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.11 19 Sep 2023`).
pub fn parse_ssh_v(text: &str) -> Option<&str> {
    let line = text.lines().find(|l| l.starts_with("OpenSSH_"))?;
    Some(line.split(", ").next().unwrap_or(line).trim())
}

/// Refuses to delete a directory that has something mounted below it: a
/// leaked bind mount of `/dev` or `/proc` must never be deleted through.
fn ensure_no_mounts(dir: &Path) -> Result<()> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let dir = dir.to_string_lossy();
    for line in mountinfo.lines() {
        if let Some(point) = line.split(' ').nth(4)
            && point.starts_with(dir.as_ref())
        {
            bail!("{point} is mounted inside {dir}; unmount it before rebuilding");
        }
    }
    Ok(())
}

/// Builds the image of `release` unless a complete one is cached (or
/// `rebuild`).
pub fn build(release: Release, rebuild: bool) -> Result<Image> {
    if !rebuild && let Some(image) = load(release) {
        let missing = image.missing_packages(release);
        if !missing.is_empty() {
            return add_packages(release, image, &missing);
        }
        println!(
            "{release}: cached ({}) in {}",
            image.info.openssh,
            image.dir.display()
        );
        return Ok(image);
    }
    if let Some(why) = cannot_build_reason() {
        bail!("cannot build the {release} image: {why}");
    }
    let dir = images_dir().join(release.as_str());
    let rootfs = dir.join("rootfs");
    let marker = marker_path(&dir);
    if marker.exists() {
        fs::remove_file(&marker).context(format_args!("removing {}", marker.display()))?;
    }
    if rootfs.exists() {
        ensure_no_mounts(&rootfs)?;
        println!("{release}: removing the old {}", rootfs.display());
        fs::remove_dir_all(&rootfs).context(format_args!("removing {}", rootfs.display()))?;
    }
    fs::create_dir_all(&dir).context(format_args!("creating {}", dir.display()))?;

    let mut cmd = Command::new("mmdebstrap");
    cmd.args(release.mmdebstrap_args(&rootfs));
    println!("{release}: {}", util::describe(&cmd));
    let start = Instant::now();
    let status = cmd
        .status()
        .context(format_args!("cannot run {}", util::describe(&cmd)))?;
    let took = start.elapsed();
    if !status.success() {
        bail!("mmdebstrap for {release} failed ({status}); see its output above");
    }

    let out = util::output(Command::new("chroot").arg(&rootfs).args(["ssh", "-V"]))?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let Some(openssh) = parse_ssh_v(&text) else {
        bail!("`ssh -V` in the {release} image printed no OpenSSH version: {text:?}");
    };
    let info = ImageInfo {
        release: release.as_str().to_owned(),
        openssh: openssh.to_owned(),
        ssh_v: text.lines().next().unwrap_or_default().to_owned(),
        built_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        build_seconds: took.as_secs(),
        packages: release.packages().iter().map(|p| (*p).to_owned()).collect(),
    };
    write_marker(&dir, &info)?;
    println!(
        "{release}: built in {} ({})",
        util::secs(took),
        info.openssh
    );
    Ok(Image { dir, info })
}

/// `cargo xtask images`: builds the requested images in sequence.
pub fn cmd_images(rebuild: bool, releases: &[Release]) -> Result<()> {
    let releases = if releases.is_empty() {
        Release::ALL.to_vec()
    } else {
        releases.to_vec()
    };
    let mut failed = Vec::new();
    let start = Instant::now();
    for release in releases {
        if let Err(e) = build(release, rebuild) {
            eprintln!("{release}: {e}");
            failed.push(release.as_str());
        }
    }
    println!("images done in {}", util::secs(start.elapsed()));
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("images not built: {}", failed.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_v_is_parsed_to_the_banner_version() {
        assert_eq!(
            parse_ssh_v("OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.22 25 Aug 2026\n"),
            Some("OpenSSH_9.2p1 Debian-2+deb12u10")
        );
        assert_eq!(
            parse_ssh_v("OpenSSH_10.0p2 Debian-7, OpenSSL 3.5.1 1 Jul 2025"),
            Some("OpenSSH_10.0p2 Debian-7")
        );
        assert_eq!(parse_ssh_v("ssh: command not found"), None);
    }

    #[test]
    fn sid_ignores_valid_until_and_others_do_not() {
        let out = Path::new("/x/rootfs");
        let sid = Release::Sid.mmdebstrap_args(out);
        assert!(sid.iter().any(|a| a.contains("Check-Valid-Until")));
        assert_eq!(sid.last().map(String::as_str), Some("/x/rootfs"));
        let bookworm = Release::Bookworm.mmdebstrap_args(out);
        assert!(!bookworm.iter().any(|a| a.contains("Check-Valid-Until")));
        assert_eq!(
            bookworm,
            [
                "--variant=apt",
                "--include=openssh-server,openssh-client,xauth,x11-utils,dropbear-bin,putty-tools,libssh-4,passwd",
                "bookworm",
                "/x/rootfs"
            ]
        );
    }

    #[test]
    fn no_mirror_is_hard_coded() {
        for release in Release::ALL {
            let args = release.mmdebstrap_args(Path::new("/o"));
            assert!(!args.iter().any(|a| a.contains("http")), "{args:?}");
        }
    }

    #[test]
    fn wtmpdb_only_where_debian_has_it() {
        let has = |r: Release| r.packages().contains(&"wtmpdb");
        assert!(!has(Release::Bookworm));
        assert!(has(Release::Trixie) && has(Release::Sid));
        assert!(
            Release::Trixie
                .mmdebstrap_args(Path::new("/o"))
                .iter()
                .any(|a| a.starts_with("--include=") && a.ends_with(",passwd,wtmpdb"))
        );
    }
}
