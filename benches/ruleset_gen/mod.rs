//! Deterministic rule sets of any size for the benchmarks: a realistic mix of about 70% exact,
//! 15% prefix, 10% contains and 5% regex rules, plus menu-event rules, spread over files of
//! 1,000 rules like a large account's catalogue (product codes, stations, campaign words).
//! The same size always gives the same files.

use std::fmt::Write as _;

/// Chinese words that keywords are made of, so that keywords look like real ones (and exercise
/// multi-byte normalisation), and that never contain digits (which the numbering uses).
const WORDS: &[&str] = &[
    "流量", "话费", "套餐", "宽带", "订单", "快递", "会员", "积分", "门店", "优惠", "退款", "发票",
    "车站", "航班", "酒店", "账单", "余额", "充值", "活动", "客服",
];

/// A small deterministic generator (xorshift64*), so the benchmarks need no `rand`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn word(&mut self) -> &'static str {
        WORDS[(self.next() % WORDS.len() as u64) as usize]
    }
}

/// A rule set of `n` rules as `(file name, TOML text)` pairs, and probe texts that hit it.
pub struct Generated {
    /// The files.
    pub files: Vec<(String, String)>,
    /// A text answered by an exact rule in the middle of the set.
    pub exact_hit: String,
    /// A text answered by a prefix rule.
    pub prefix_hit: String,
    /// A text answered by a contains rule.
    pub contains_hit: String,
    /// A text answered by a regex rule.
    pub regex_hit: String,
    /// A text no rule answers.
    pub miss: String,
    /// A menu key with a rule.
    pub event_key: String,
}

/// The kind of rule at each position of a cycle of 20: 14 exact (70%), 3 prefix (15%),
/// 2 contains (10%), 1 regex (5%), interleaved so that even 10 rules have every kind.
const CYCLE: &[u8; 20] = b"EPECEREEPEECEEPEEEEE";

/// Generates `n` text rules in the realistic mix, plus one menu-event rule per 100.
pub fn generate(n: usize) -> Generated {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
    let mut files = Vec::new();
    let mut text = String::new();
    // For each kind, the probe: the first rule of that kind in the second half of the set.
    let (mut exact_hit, mut prefix_hit, mut contains_hit, mut regex_hit) =
        (String::new(), String::new(), String::new(), String::new());
    let set = |slot: &mut String, value: String, i: usize| {
        if slot.is_empty() || (i < n / 2) {
            *slot = value;
        }
    };
    let events = n / 100 + 1;
    for i in 0..n + events {
        let w = rng.word();
        let _ = writeln!(text, "[[rule]]\nid = \"r{i}\"");
        let kind = if i >= n { b'V' } else { CYCLE[i % CYCLE.len()] };
        match kind {
            b'E' => {
                let kw = if i % 2 == 0 {
                    format!("SKU{i:07}")
                } else {
                    format!("{w}{i}")
                };
                let _ = writeln!(text, "match.exact = [\"{kw}\", \"{w}查询{i}\"]");
                set(&mut exact_hit, kw, i);
            }
            b'P' => {
                let kw = format!("{w}{i}号");
                let _ = writeln!(text, "match.prefix = \"{kw}\"");
                set(&mut prefix_hit, format!("{kw}怎么办理"), i);
            }
            b'C' => {
                let kw = format!("关键{i}词");
                let _ = writeln!(text, "match.contains = \"{kw}\"");
                set(&mut contains_hit, format!("请问{kw}是什么"), i);
            }
            b'R' => {
                let _ = writeln!(text, "match.regex = '^ORD{i}-(?P<no>[0-9]{{6,}})$'");
                set(&mut regex_hit, format!("ORD{i}-1234567"), i);
            }
            _ => {
                let _ = writeln!(text, "match.event = \"CLICK\"\nmatch.key = \"KEY_{i}\"");
            }
        }
        if kind == b'R' {
            let _ = writeln!(
                text,
                "reply.text = \"订单 ${{no}} 的状态：处理中（规则 {i}）\"\n"
            );
        } else {
            let _ = writeln!(
                text,
                "reply.text = \"第 {i} 条规则的回复：{w}相关信息请查看链接。\"\n"
            );
        }
        if (i + 1) % 1000 == 0 || i + 1 == n + events {
            files.push((
                format!("part-{:04}.toml", files.len()),
                std::mem::take(&mut text),
            ));
        }
    }
    Generated {
        files,
        exact_hit,
        prefix_hit,
        contains_hit,
        regex_hit,
        miss: "这句话没有任何规则能回答".to_owned(),
        event_key: format!("KEY_{}", n + events / 2),
    }
}

/// A catalogue: `n` exact rules in one TOML text (`id`, `match.exact`, `reply.text` each), as a
/// shop loads its product codes. Rule `i` answers `SKU{i:07}` (any case) with
/// [`catalogue_reply`]`(i)`.
pub fn catalogue(n: usize) -> String {
    let mut text = String::with_capacity(n * 120);
    for i in 0..n {
        let _ = write!(
            text,
            "[[rule]]\nid = \"sku-{i}\"\nmatch.exact = \"SKU{i:07}\"\nreply.text = \"{}\"\n\n",
            catalogue_reply(i)
        );
    }
    text
}

/// The text rule `i` of a [`catalogue`] answers.
pub fn catalogue_reply(i: usize) -> String {
    format!("Product {i:07}: in stock, ships within 2 days.")
}
