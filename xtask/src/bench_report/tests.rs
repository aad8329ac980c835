//! The report's tests: medians and ratios, the table's columns, the
//! JSON form.

use super::*;

#[test]
fn sizes_parse_with_binary_suffixes() {
    assert_eq!(parse_size("2G"), Ok(2 << 30));
    assert_eq!(parse_size("2GiB"), Ok(2 << 30));
    assert_eq!(parse_size("64M"), Ok(64 << 20));
    assert_eq!(parse_size("64mib"), Ok(64 << 20));
    assert_eq!(parse_size("512k"), Ok(512 << 10));
    assert_eq!(parse_size("4096"), Ok(4096));
    assert_eq!(parse_size("100B"), Ok(100));
    assert!(parse_size("").is_err());
    assert!(parse_size("G").is_err());
    assert!(parse_size("0").is_err());
    assert!(parse_size("2T").is_err());
    assert!(parse_size("1.5G").is_err());
    assert!(parse_size("-1").is_err());
    assert!(parse_size("99999999999G").is_err());
}

#[test]
fn sizes_format() {
    assert_eq!(format_size(2 << 30), "2 GiB");
    assert_eq!(format_size(64 << 20), "64 MiB");
    assert_eq!(format_size(3 << 10), "3 KiB");
    assert_eq!(format_size(1000), "1000 bytes");
    assert_eq!(format_size((1 << 30) + (1 << 20)), "1025 MiB");
}

#[test]
fn dates_are_utc() {
    assert_eq!(utc_date(0), "1970-01-01T00:00:00Z");
    assert_eq!(utc_date(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(utc_date(1_795_465_144), "2026-11-23T20:19:04Z");
}

fn sample(value: f64) -> Sample {
    Sample {
        value,
        seconds: 1.0,
        client_cpu_seconds: Some(0.5),
        server_cpu_seconds: Some(1.0),
    }
}

fn cell(pair: &'static str, rounds: &[Option<f64>]) -> Cell {
    cell_per(pair, rounds, CpuBasis::PerGb { bytes: 500_000_000 })
}

fn cell_per(pair: &'static str, rounds: &[Option<f64>], basis: CpuBasis) -> Cell {
    let rounds = rounds
        .iter()
        .map(|v| v.map(sample).ok_or_else(|| "exit status 255".to_owned()))
        .collect();
    Cell::from_rounds(pair, rounds, basis)
}

fn report() -> Report {
    let chacha = CIPHERS[0];
    let ctr = CIPHERS[3];
    let gb = CpuBasis::PerGb { bytes: 500_000_000 };
    let per_connection = CpuBasis::PerConnection { connections: 5 };
    Report {
        date: "2026-11-23T23:00:00Z".to_owned(),
        release: "sid".to_owned(),
        openssh: "OpenSSH_10.6p1 Debian-1".to_owned(),
        cores: 2,
        crypto: CRYPTO_DEFAULT,
        size_bytes: 64 << 20,
        connections: 5,
        rounds: 3,
        login_shell: "/bin/sh",
        mb_bytes: 1_000_000,
        // The first four pairs (no one-process rsshd).
        pairs: PAIRS.iter().take(4).map(|p| pair_name(*p)).collect(),
        path: None,
        rows: vec![
            Row::new(
                Some(chacha),
                Measure::Upload,
                None,
                gb,
                vec![
                    cell("ssh>sshd", &[Some(400.0), Some(100.0), Some(400.0)]),
                    cell("rssh>sshd", &[Some(500.0), Some(500.0), Some(500.0)]),
                    cell("ssh>rsshd", &[Some(200.0), None, Some(200.0)]),
                    cell("rssh>rsshd", &[None, None, None]),
                ],
            ),
            Row::new(
                Some(ctr),
                Measure::Download,
                None,
                gb,
                vec![
                    cell("ssh>sshd", &[Some(300.0), Some(300.0), Some(300.0)]),
                    Cell::from_rounds("rssh>sshd", vec![Err("rssh not built".into())], gb),
                    cell("ssh>rsshd", &[Some(330.0), Some(330.0), Some(330.0)]),
                    Cell::from_rounds("rssh>rsshd", vec![Err("rssh not built".into())], gb),
                ],
            ),
            Row::new(
                None,
                Measure::Connections,
                None,
                per_connection,
                vec![
                    Cell::from_rounds("ssh>sshd", vec![Err("sshd did not start".into())], gb),
                    cell_per("rssh>sshd", &[Some(10.0)], per_connection),
                    cell_per("ssh>rsshd", &[Some(12.0)], per_connection),
                    cell_per("rssh>rsshd", &[Some(14.0)], per_connection),
                ],
            ),
        ],
    }
}

#[test]
fn medians_of_values_and_of_per_round_ratios() {
    assert_eq!(median(vec![]), None);
    assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    assert_eq!(median(vec![f64::NAN, 1.0]), Some(1.0));
    let r = report();
    // ssh>sshd's noisy round (100) moves its median to 400 and the
    // ratio's median to 1.25, not the 500/300 of the means.
    assert_eq!(r.rows[0].cells[0].value, Some(400.0));
    assert_eq!(r.rows[0].ratios[0].per_round, [1.25, 5.0, 1.25]);
    assert_eq!(r.rows[0].ratios[0].ratio, Some(1.25));
    // A failed round drops out of the ratios, not the whole cell.
    assert_eq!(r.rows[0].ratios[1].per_round, [0.5, 0.5]);
    assert_eq!(r.rows[0].cells[2].error.as_deref(), Some("exit status 255"));
    // CPU: 0.5 s and 1 s for 0.5 GB.
    assert_eq!(r.rows[0].cells[1].client_cpu, Some(1.0));
    assert_eq!(r.rows[0].cells[1].server_cpu, Some(2.0));
    assert_eq!(r.rows[2].cells[1].client_cpu, Some(100.0));
    assert_eq!(r.rows[2].cpu_unit, "CPU ms/connection");
}

#[test]
fn ratios_are_against_openssh_pair() {
    let r = report();
    let ratios: Vec<Option<f64>> = r.rows[0].ratios.iter().map(|x| x.ratio).collect();
    assert_eq!(ratios, [Some(1.25), Some(0.5), None]);
    assert_eq!(r.rows[0].ratios[0].pair, "rssh>sshd");
    assert_eq!(r.rows[1].ratios[1].ratio, Some(1.1));
    // No baseline, no ratios.
    assert!(r.rows[2].ratios.iter().all(|x| x.ratio.is_none()));
    assert_eq!(r.rows[0].name, "chacha20-poly1305@openssh.com upload");
    assert_eq!(
        r.rows[1].name,
        "aes128-ctr + hmac-sha2-256-etm@openssh.com download"
    );
    assert_eq!(r.rows[2].name, "connections/s");
    assert_eq!(r.rows[1].mac, Some("hmac-sha2-256-etm@openssh.com"));
    assert_eq!(r.rows[0].mac, None);
}

#[test]
fn table_has_a_column_per_pair_and_ratio() {
    let table = render_table(&report());
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 12, "{table}");
    assert!(lines[0].starts_with("OpenSSH_10.6p1 Debian-1 (sid), 2 cores, 64 MiB"));
    assert!(lines[0].contains("3 rounds"), "{table}");
    assert_eq!(lines[1], "our crypto: RustCrypto");
    let lines = &lines[1..];
    let head: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        head,
        [
            "ssh>sshd",
            "rssh>sshd",
            "ssh>rsshd",
            "rssh>rsshd",
            "rssh>sshd/ssh>sshd",
            "ssh>rsshd/ssh>sshd",
            "rssh>rsshd/ssh>sshd"
        ]
    );
    let row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        row,
        [
            "chacha20-poly1305@openssh.com",
            "upload",
            "(MB/s)",
            "400.0",
            "500.0",
            "200.0",
            "failed",
            "1.25",
            "0.50",
            "-"
        ]
    );
    assert!(lines[3].contains("rssh not built"), "{table}");
    assert!(lines[3].contains("1.10"), "{table}");
    assert!(
        lines[4].starts_with("connections/s (connections/s)"),
        "{table}"
    );
    // Columns line up: every value ends where its header ends.
    let end_of = |line: &str, word: &str| line.find(word).map(|i| i + word.len());
    assert_eq!(end_of(lines[1], "rssh>sshd"), end_of(lines[2], "500.0"));
    assert_eq!(
        end_of(lines[1], "rssh>rsshd/ssh>sshd"),
        Some(lines[2].len())
    );
    // The CPU table: client/server per pair.
    assert!(lines[6].starts_with("CPU, client / server"), "{table}");
    let cpu: Vec<&str> = lines[8].split_whitespace().collect();
    assert_eq!(
        cpu,
        [
            "chacha20-poly1305@openssh.com",
            "upload",
            "(CPU",
            "s/GB)",
            "1.00/2.00",
            "1.00/2.00",
            "1.00/2.00",
            "-/-"
        ]
    );
}

#[test]
fn one_process_pairs_show_in_the_connection_rows_only() {
    let gb = CpuBasis::PerGb { bytes: 500_000_000 };
    let per_connection = CpuBasis::PerConnection { connections: 5 };
    let mut r = report();
    r.pairs = PAIRS.iter().map(|p| pair_name(*p)).collect();
    let skipped = |pair| Cell::from_rounds(pair, vec![Err(CONNECTIONS_ONLY.into())], gb);
    r.rows[0].cells.push(skipped("ssh>rsshd1"));
    r.rows[0].cells.push(skipped("rssh>rsshd1"));
    r.rows.truncate(1);
    r.rows.push(Row::new(
        None,
        Measure::Connections,
        None,
        per_connection,
        vec![
            cell_per("ssh>sshd", &[Some(8.0)], per_connection),
            cell_per("rssh>sshd", &[Some(30.0)], per_connection),
            cell_per("ssh>rsshd", &[Some(10.0)], per_connection),
            cell_per("rssh>rsshd", &[Some(120.0)], per_connection),
            cell_per("ssh>rsshd1", &[Some(11.0)], per_connection),
            cell_per("rssh>rsshd1", &[Some(160.0)], per_connection),
        ],
    ));
    let table = render_table(&r);
    assert!(table.contains("rsshd1 is one process"), "{table}");
    let line = |start: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let upload = line("chacha20-poly1305@openssh.com upload (MB/s)");
    assert_eq!(
        upload.get(7..9),
        Some(&["-".to_owned(), "-".to_owned()][..]),
        "{table}"
    );
    let connections = line("connections/s (connections/s)");
    assert_eq!(
        connections.get(7).map(String::as_str),
        Some("160.0"),
        "{table}"
    );
    // rssh>rsshd1 against ssh>sshd: 160 / 8.
    assert_eq!(
        connections.last().map(String::as_str),
        Some("20.00"),
        "{table}"
    );
}

#[test]
fn report_serializes_with_every_number() {
    let json = serde_json::to_value(report()).unwrap();
    assert_eq!(json["size_bytes"], 64 << 20);
    assert_eq!(json["cores"], 2);
    assert_eq!(json["rows"][0]["measure"], "upload");
    assert_eq!(json["rows"][0]["cells"][1]["value"], 500.0);
    assert_eq!(json["rows"][0]["cells"][1]["rounds"][0]["seconds"], 1.0);
    assert_eq!(json["rows"][0]["cells"][1]["client_cpu"], 1.0);
    assert_eq!(json["rows"][0]["ratios"][0]["per_round"][1], 5.0);
    assert_eq!(json["rounds"], 3);
    assert_eq!(json["rows"][0]["ratios"][0]["ratio"], 1.25);
    assert_eq!(json["rows"][1]["cells"][1]["error"], "rssh not built");
    assert_eq!(json["rows"][2]["unit"], "connections/s");
}
