//! Geo commands through the real protocol: documented values from the
//! Redis manual, error texts, and every reply compared byte for byte with
//! real Redis (fixed scripts in RESP2 and RESP3, and a seeded random run of
//! points and searches; `MEMKV_SEED` replays a seed).

mod common;

use common::diff::Diff;
use common::script::*;

#[test]
fn documented_examples() {
    both(&[
        (
            "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
            ":2",
        ),
        ("GEODIST Sicily Palermo Catania", r#""166274.1516""#),
        ("GEODIST Sicily Palermo Catania km", r#""166.2742""#),
        ("GEODIST Sicily Palermo Catania mi", r#""103.3182""#),
        ("GEODIST Sicily Foo Bar", "$-1"),
        (
            "GEOHASH Sicily Palermo Catania",
            r#"["sqc8b49rny0", "sqdtr74hyu0"]"#,
        ),
        (
            "GEOPOS Sicily Palermo Catania NonExisting",
            r#"[["13.36138933897018433", "38.11555639549629859"], ["15.08726745843887329", "37.50266842333162032"], *-1]"#,
        ),
        (
            "GEORADIUS Sicily 15 37 200 km WITHDIST",
            r#"[["Palermo", "190.4424"], ["Catania", "56.4413"]]"#,
        ),
        (
            "GEORADIUS Sicily 15 37 200 km WITHDIST ASC",
            r#"[["Catania", "56.4413"], ["Palermo", "190.4424"]]"#,
        ),
        ("ZSCORE Sicily Palermo", r#""3479099956230698""#),
        (
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST WITHHASH",
            r#"[["Catania", "56.4413", :3479447370796909, ["15.08726745843887329", "37.50266842333162032"]], ["Palermo", "190.4424", :3479099956230698, ["13.36138933897018433", "38.11555639549629859"]]]"#,
        ),
        (
            "GEOSEARCHSTORE d Sicily FROMLONLAT 15 37 BYRADIUS 100 km STOREDIST",
            ":1",
        ),
        (
            "ZRANGE d 0 -1 WITHSCORES",
            r#"["Catania", "56.441257870158204"]"#,
        ),
        ("TYPE Sicily", "+zset"),
        ("@resp3", ""),
        (
            "GEOPOS Sicily Palermo nope",
            "[[,13.36138933897018433, ,38.11555639549629859], _]",
        ),
    ]);
}

#[test]
fn errors_like_redis() {
    both(&[
        ("GEOADD g 13.361389 38.115556 a", ":1"),
        ("GEOADD g NX XX 1 1 b", SYNTAX),
        (
            "GEOADD g 1 1",
            "-ERR wrong number of arguments for 'geoadd' command",
        ),
        ("GEOADD g 1 1 a 2", SYNTAX),
        ("GEOADD g CH 1 1", SYNTAX),
        (
            "GEOADD g NX",
            "-ERR wrong number of arguments for 'geoadd' command",
        ),
        (
            "GEOADD g 181 1 b",
            "-ERR invalid longitude,latitude pair 181.000000,1.000000",
        ),
        (
            "GEOADD g 1 85.1 b",
            "-ERR invalid longitude,latitude pair 1.000000,85.100000",
        ),
        ("GEOADD g x 1 b", "-ERR value is not a valid float"),
        (
            "GEODIST g a a parsec",
            "-ERR unsupported unit provided. please use M, KM, FT, MI",
        ),
        ("GEODIST g a a km x", SYNTAX),
        ("GEORADIUS g 15 37 -1 km", "-ERR radius cannot be negative"),
        ("GEORADIUS g 15 37 x km", "-ERR need numeric radius"),
        ("GEORADIUS g 15 37 1 km COUNT 0", "-ERR COUNT must be > 0"),
        ("GEORADIUS g 15 37 1 km COUNT x", NOTINT),
        (
            "GEORADIUS g 15 37 1 km ANY",
            "-ERR the ANY argument requires COUNT argument",
        ),
        (
            "GEORADIUS g 15 37 1 km STORE d WITHDIST",
            "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
        ),
        ("GEORADIUS_RO g 15 37 1 km STORE d", SYNTAX),
        (
            "GEORADIUSBYMEMBER g nope 1 km",
            "-ERR could not decode requested zset member",
        ),
        ("GEORADIUSBYMEMBER nokey nope 1 km", "[]"),
        ("GEORADIUSBYMEMBER nokey nope 1 km STORE d", ":0"),
        (
            "GEOSEARCH g FROMLONLAT 15 37 ASC WITHDIST",
            "-ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH",
        ),
        (
            "GEOSEARCH g BYRADIUS 1 km ASC WITHDIST",
            "-ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH",
        ),
        (
            "geosearch g BYRADIUS 1 km ASC WITHDIST",
            "-ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch",
        ),
        (
            "GEOSEARCH g FROMLONLAT 15 37 FROMMEMBER a BYRADIUS 1 km",
            SYNTAX,
        ),
        (
            "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km BYBOX 1 1 km",
            SYNTAX,
        ),
        (
            "GEOSEARCH g FROMLONLAT 15 37 BYBOX -1 1 km",
            "-ERR height or width cannot be negative",
        ),
        (
            "GEOSEARCH g FROMLONLAT 15 37 BYBOX x 1 km",
            "-ERR need numeric width",
        ),
        (
            "GEOSEARCH g FROMLONLAT 15 37 BYBOX 1 x km",
            "-ERR need numeric height",
        ),
        (
            "GEOSEARCH g FROMMEMBER nope BYRADIUS 1 km",
            "-ERR could not decode requested zset member",
        ),
        ("GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 1 km STORE d", SYNTAX),
        ("GEOSEARCH nokey FROMMEMBER nope BYRADIUS 1 km", "[]"),
        (
            "GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 1 km WITHDIST",
            "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
        ),
        ("SET s v", "+OK"),
        ("GEOADD s 1 1 a", WRONGTYPE),
        ("GEOPOS s a", WRONGTYPE),
        ("GEODIST s a b", WRONGTYPE),
        ("GEOSEARCH s FROMLONLAT 1 1 BYRADIUS 1 km", WRONGTYPE),
        ("GEORADIUS s 1 1 1 km", WRONGTYPE),
    ]);
}

// ---------------------------------------------------------------------------
// Random points and searches against real Redis.
// ---------------------------------------------------------------------------

fn coord(r: &mut Rng, lo: f64, hi: f64) -> String {
    let v = lo + (hi - lo) * (r.below(1_000_000) as f64 / 1_000_000.0);
    format!("{v:.6}")
}

fn center(r: &mut Rng) -> (String, String) {
    // Mostly near the clusters, sometimes anywhere (poles, date line).
    match r.below(4) {
        0 => (coord(r, -180.0, 180.0), coord(r, -85.0, 85.0)),
        1 => (coord(r, 179.0, 180.0), coord(r, -85.0, -80.0)),
        _ => (coord(r, 10.0, 20.0), coord(r, 35.0, 45.0)),
    }
}

fn gen_geo(r: &mut Rng) -> String {
    let unit = |r: &mut Rng| r.pick(&["m", "km", "mi", "ft"]).to_string();
    let member = |r: &mut Rng| format!("p{}", r.below(400));
    let opts = |r: &mut Rng, store: bool| {
        let mut s = String::new();
        if !store {
            for o in ["WITHDIST", "WITHCOORD", "WITHHASH"] {
                if r.chance(40) {
                    s += &format!(" {o}");
                }
            }
        }
        match r.below(3) {
            0 => s += " ASC",
            1 => s += " DESC",
            _ => {}
        }
        if r.chance(40) {
            s += &format!(" COUNT {}", 1 + r.below(20));
            if r.chance(30) {
                s += " ANY";
            }
        }
        s
    };
    let radius = |r: &mut Rng| {
        r.pick(&["1", "50", "200", "1000", "5000", "0", "12.5"])
            .to_string()
    };
    let from = |r: &mut Rng| {
        if r.chance(30) {
            format!("FROMMEMBER {}", member(r))
        } else {
            let (x, y) = center(r);
            format!("FROMLONLAT {x} {y}")
        }
    };
    let by = |r: &mut Rng| {
        if r.chance(50) {
            format!("BYRADIUS {} {}", radius(r), unit(r))
        } else {
            format!("BYBOX {} {} {}", radius(r), radius(r), unit(r))
        }
    };
    match r.below(10) {
        0 => {
            let (x, y) = center(r);
            format!(
                "GEOADD g {} {x} {y} {}",
                r.pick(&["", "CH", "NX", "XX"]),
                member(r)
            )
        }
        1 => format!("GEODIST g {} {} {}", member(r), member(r), unit(r)),
        2 => format!("GEOPOS g {} {}", member(r), member(r)),
        3 => format!("GEOHASH g {} {}", member(r), member(r)),
        4 => {
            let (x, y) = center(r);
            let ro = r.chance(50);
            format!(
                "GEORADIUS{} g {x} {y} {} {}{}",
                if ro { "_RO" } else { "" },
                radius(r),
                unit(r),
                opts(r, false)
            )
        }
        5 => format!(
            "GEORADIUSBYMEMBER g {} {} {}{}",
            member(r),
            radius(r),
            unit(r),
            opts(r, false)
        ),
        6..=7 => format!("GEOSEARCH g {} {}{}", from(r), by(r), opts(r, false)),
        8 => format!(
            "GEOSEARCHSTORE d g {} {}{}{}",
            from(r),
            by(r),
            opts(r, true),
            if r.chance(50) { " STOREDIST" } else { "" }
        ),
        _ => "ZRANGE d 0 -1 WITHSCORES".to_string(),
    }
}

#[test]
fn differential_against_redis() {
    let Some(mut d) = Diff::start("geo", &[]) else {
        return;
    };
    // 400 points: clusters in Sicily-ish and around the antimeridian/pole.
    for i in 0..400 {
        let (x, y) = center(&mut d.rng);
        d.same(&format!("GEOADD g {x} {y} p{i}"));
    }
    d.run_lines(4000, gen_geo);
}
