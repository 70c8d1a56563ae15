//! `userspan users`: the users table in the terminal (aligned columns, human units).

use crate::metrics::overview::{overview, Overview};
use crate::metrics::period::Period;
use crate::metrics::users::{filter_sort, rollups, user_rows, ListQuery, UserRow, SORT_COLUMNS};
use crate::store::index::ProjectData;
use crate::timefmt::{now_ns, parse_time, NS_PER_DAY, NS_PER_HOUR, NS_PER_MS};
use std::fmt::Write as _;

/// Arguments of `userspan users`.
#[derive(Debug, Clone, clap::Args)]
pub struct UsersArgs {
    /// SQLite database file written by `userspan serve` or `userspan demo`.
    #[arg(long, default_value = "userspan.db")]
    pub db: std::path::PathBuf,
    /// Period start (RFC 3339 or unix ms); default 30 days before --to.
    #[arg(long)]
    pub from: Option<String>,
    /// Period end, exclusive (RFC 3339 or unix ms); default now.
    #[arg(long)]
    pub to: Option<String>,
    /// Column to sort by (e.g. last_seen, traces, cost_usd, error_rate).
    #[arg(long, default_value = "last_seen")]
    pub sort: String,
    /// asc or desc.
    #[arg(long, default_value = "desc")]
    pub order: String,
    /// Only users whose id or e-mail contains this (case-insensitive).
    #[arg(long)]
    pub q: Option<String>,
    /// Project.
    #[arg(long, default_value = userspan::conventions::DEFAULT_PROJECT)]
    pub project: String,
    /// Rows to show at most.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// Runs the command.
pub fn run(args: &UsersArgs) -> Result<(), String> {
    let index = crate::store::load_file(&args.db)?;
    let to = args.to.as_deref().map(parse_time).transpose()?.unwrap_or_else(now_ns);
    let from = args.from.as_deref().map(parse_time).transpose()?.unwrap_or(to - 30 * NS_PER_DAY);
    if from >= to {
        return Err("--from must be before --to".into());
    }
    if !SORT_COLUMNS.contains(&args.sort.as_str()) {
        return Err(format!("--sort must be one of {}", SORT_COLUMNS.join(", ")));
    }
    if args.order != "asc" && args.order != "desc" {
        return Err("--order must be asc or desc".into());
    }
    let period = Period { from_ns: from, to_ns: to };
    if period.bucket_count() > 1000 {
        return Err("the period is too long: at most 1000 days".into());
    }
    let idx = index.read();
    let pd = idx.project(&args.project);
    let lq = ListQuery { q: args.q.clone(), sort: args.sort.clone(), desc: args.order == "desc" };
    print!("{}", render(pd, &period, &lq, args.limit, now_ns()));
    Ok(())
}

/// The overview lines and the users table as text.
pub fn render(pd: &ProjectData, period: &Period, lq: &ListQuery, limit: usize, now: i64) -> String {
    let ov = overview(pd, period);
    let rows = filter_sort(user_rows(pd, period), lq);
    let mut out = render_overview(&ov);
    out.push('\n');
    out.push_str(&render_table(&rows, limit, now));
    out
}

/// The overview as a few lines.
pub fn render_overview(ov: &Overview) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Users  {} .. {}  ({} buckets)", &ov.from[..16], &ov.to[..16], ov.bucket);
    let _ = writeln!(
        s,
        "  unique users {}   new users {}   traces {}   with user {:.0}%   sessions with user {:.0}%   traces/user {:.1}",
        ov.unique_users,
        ov.new_users,
        ov.traces,
        ov.traces_with_user_share * 100.0,
        ov.sessions_with_user_share * 100.0,
        ov.traces_per_user
    );
    let max = ov.histogram.iter().map(|b| b.traces).max().unwrap_or(0);
    let spark: String = ov.histogram.iter().map(|b| spark_char(b.traces, max)).collect();
    let _ = writeln!(s, "  activity {spark}");
    s
}

fn spark_char(v: i64, max: i64) -> char {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if v == 0 || max == 0 {
        return ' ';
    }
    BARS[((v * 7 + max - 1) / max).clamp(0, 7) as usize]
}

/// Age as "5m ago", "3h ago", "2d ago".
pub fn ago(ns: i64, now: i64) -> String {
    let d = (now - ns).max(0);
    if d < NS_PER_HOUR {
        format!("{}m ago", d / (60 * 1_000_000_000))
    } else if d < NS_PER_DAY {
        format!("{}h ago", d / NS_PER_HOUR)
    } else {
        format!("{}d ago", d / NS_PER_DAY)
    }
}

/// 1234 → "1.2k", 2_500_000 → "2.5M".
pub fn human(n: f64) -> String {
    let a = n.abs();
    if a >= 1e9 {
        format!("{:.1}G", n / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", n / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// Dollars with sensible precision.
pub fn money(usd: f64) -> String {
    if usd == 0.0 {
        "$0".into()
    } else if usd < 0.01 {
        format!("${usd:.4}")
    } else if usd < 100.0 {
        format!("${usd:.2}")
    } else {
        format!("${}", human(usd))
    }
}

/// A user's cost: `~` before a cost that includes list prices (estimated), `+N unpriced` after
/// one with LLM calls of no known price, `unpriced` instead of `$0` when nothing was priced.
pub fn cost_cell(usd: f64, estimated_usd: f64, unpriced: i64) -> String {
    let base = if usd == 0.0 && unpriced > 0 {
        "unpriced".to_string()
    } else if estimated_usd > 0.0 {
        format!("~{}", money(usd))
    } else {
        money(usd)
    };
    if unpriced > 0 && usd != 0.0 {
        format!("{base} +{unpriced} unpriced")
    } else {
        base
    }
}

/// Milliseconds as "850ms" / "2.4s".
pub fn latency(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

const HEADERS: [&str; 13] = [
    "USER",
    "TYPE",
    "LAST SEEN",
    "FIRST SEEN",
    "TREND",
    "TRACES",
    "SESSIONS",
    "ERRORS",
    "TOKENS",
    "COST",
    "LATENCY",
    "DAYS",
    "EVAL",
];
/// Right-aligned columns (numbers).
const RIGHT: [bool; 13] = [false, false, true, true, false, true, true, true, true, true, true, true, true];

fn cells(r: &UserRow, now: i64) -> [String; 13] {
    let t = &r.totals;
    let max = r.trend.iter().copied().max().unwrap_or(0);
    let trend: String = compress(&r.trend, 14).iter().map(|v| spark_char(*v, max)).collect();
    let user = match &r.user_email {
        Some(e) if *e != r.user_id => format!("{} <{}>", truncate(&r.user_id, 24), truncate(e, 28)),
        _ => truncate(&r.user_id, 40),
    };
    [
        user,
        r.user_id_type.clone(),
        ago(r.number("last_seen").unwrap_or(0.0) as i64, now),
        ago(r.number("first_seen").unwrap_or(0.0) as i64, now),
        trend,
        human(t.traces as f64),
        human(t.sessions as f64),
        format!("{:.0}% ({})", t.error_rate * 100.0, t.errored_sessions),
        human(t.total_tokens as f64),
        cost_cell(t.cost_usd, t.estimated_cost_usd, t.unpriced_llm_calls),
        latency(t.avg_latency_ms),
        t.active_days.to_string(),
        t.eval_pass_rate.map(|p| format!("{:.0}%", p * 100.0)).unwrap_or_else(|| "-".into()),
    ]
}

/// Sums neighbouring buckets so a long trend fits `width` characters.
fn compress(v: &[i64], width: usize) -> Vec<i64> {
    if v.len() <= width {
        return v.to_vec();
    }
    let per = v.len().div_ceil(width);
    v.chunks(per).map(|c| c.iter().sum()).collect()
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The users table with a SUM / AVG / MED footer.
pub fn render_table(rows: &[UserRow], limit: usize, now: i64) -> String {
    let mut lines: Vec<[String; 13]> = vec![HEADERS.map(String::from)];
    for r in rows.iter().take(limit) {
        lines.push(cells(r, now));
    }
    let roll = rollups(rows);
    let get = |c: &str| roll.get(c).cloned();
    for (label, pick) in [("SUM", 0usize), ("AVG", 1), ("MED", 2)] {
        let v = |c: &str| -> Option<f64> {
            get(c).and_then(|r| match pick {
                0 => Some(r.sum),
                1 => r.avg,
                _ => r.median,
            })
        };
        let num = |c: &str| v(c).map(human).unwrap_or_default();
        lines.push([
            format!("{label} of {} users", rows.len()),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            num("traces"),
            num("sessions"),
            if pick == 0 {
                format!("({})", human(v("errored_sessions").unwrap_or(0.0)))
            } else {
                v("error_rate").map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_default()
            },
            num("total_tokens"),
            match (v("cost_usd"), v("estimated_cost_usd")) {
                (Some(c), Some(e)) if e > 0.0 => format!("~{}", money(c)),
                (c, _) => c.map(money).unwrap_or_default(),
            },
            if pick == 0 { String::new() } else { v("avg_latency_ms").map(latency).unwrap_or_default() },
            num("active_days"),
            if pick == 0 {
                String::new()
            } else {
                v("eval_pass_rate").map(|p| format!("{:.0}%", p * 100.0)).unwrap_or_default()
            },
        ]);
    }
    let mut widths = [0usize; 13];
    for l in &lines {
        for (i, c) in l.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let sep: String = widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>().join("  ");
    for (n, l) in lines.iter().enumerate() {
        if n == 1 || n == lines.len() - 3 {
            out.push_str(&sep);
            out.push('\n');
        }
        let mut line = String::new();
        for (i, c) in l.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i > 0 {
                line.push_str("  ");
            }
            if RIGHT[i] {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if rows.len() > limit {
        let _ = writeln!(out, "({} more users; use --limit, --q or --sort)", rows.len() - limit);
    }
    if rows.iter().any(|r| r.totals.estimated_cost_usd > 0.0 || r.totals.unpriced_llm_calls > 0) {
        let _ = writeln!(
            out,
            "~ cost includes list prices (genai-prices {}); unpriced: LLM calls with usage but no known price (serve --prices FILE)",
            crate::pricing::GENAI_PRICES_VERSION
        );
    }
    if rows.is_empty() {
        out.push_str("no users with traces in this period\n");
    }
    let _ = NS_PER_MS;
    out
}
