//! The geo family on top of sorted sets (Redis 7.0's geo.c): GEOADD,
//! GEODIST, GEOHASH, GEOPOS, GEOSEARCH, GEOSEARCHSTORE, GEORADIUS,
//! GEORADIUSBYMEMBER and their _RO forms. A member's score is its 52-bit
//! geohash (`geohash.rs`); searches scan the score ranges of the center box
//! and its neighbours, filter by exact distance, and sort by distance.

use super::flags::{DENYOOM, READONLY, WRITE};
use super::geohash::{self, Query, Shape};
use super::zset::limits;
use super::{Args, CmdError, CmdResult, CommandSpec, OwnedArgs};
use crate::number::parse_f64;
use crate::resp::Reply;
use crate::server::{Client, Server};
use crate::store::{Sds, Value, ZSet};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("geoadd", -5, WRITE | DENYOOM, (1, 1, 1), geoadd, "geo").doc(
        "3.2.0",
        "Add one or more geospatial items in the geospatial index represented using a sorted set",
        "key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]",
    ),
    CommandSpec::new("geodist", -4, READONLY, (1, 1, 1), geodist, "geo").doc(
        "3.2.0",
        "Returns the distance between two members of a geospatial index",
        "key member1 member2 [M | KM | FT | MI]",
    ),
    CommandSpec::new("geohash", -2, READONLY, (1, 1, 1), geohash_cmd, "geo").doc(
        "3.2.0",
        "Returns members of a geospatial index as standard geohash strings",
        "key [member [member ...]]",
    ),
    CommandSpec::new("geopos", -2, READONLY, (1, 1, 1), geopos, "geo").doc(
        "3.2.0",
        "Returns longitude and latitude of members of a geospatial index",
        "key [member [member ...]]",
    ),
    CommandSpec::new("georadius", -6, WRITE | DENYOOM, (1, 1, 1), georadius, "geo").doc(
        "3.2.0",
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
        "key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]",
    ),
    CommandSpec::new("georadius_ro", -6, READONLY, (1, 1, 1), georadius_ro, "geo").doc(
        "3.2.10",
        "A read-only variant for GEORADIUS",
        "key longitude latitude radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]",
    ),
    CommandSpec::new(
        "georadiusbymember",
        -5,
        WRITE | DENYOOM,
        (1, 1, 1),
        georadiusbymember,
        "geo",
    )
    .doc(
        "3.2.0",
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
        "key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]",
    ),
    CommandSpec::new(
        "georadiusbymember_ro",
        -5,
        READONLY,
        (1, 1, 1),
        georadiusbymember_ro,
        "geo",
    )
    .doc(
        "3.2.10",
        "A read-only variant for GEORADIUSBYMEMBER",
        "key member radius <M | KM | FT | MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]",
    ),
    CommandSpec::new("geosearch", -7, READONLY, (1, 1, 1), geosearch, "geo").doc(
        "6.2.0",
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
        "key <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]",
    ),
    CommandSpec::new(
        "geosearchstore",
        -8,
        WRITE | DENYOOM,
        (1, 2, 1),
        geosearchstore,
        "geo",
    )
    .doc(
        "6.2.0",
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.",
        "destination source <FROMMEMBER member | FROMLONLAT longitude latitude> <BYRADIUS radius <M | KM | FT | MI> | BYBOX width height <M | KM | FT | MI>> [ASC | DESC] [COUNT count [ANY]] [STOREDIST]",
    ),
];

// ---------------------------------------------------------------------------
// Argument helpers.
// ---------------------------------------------------------------------------

/// extractLongLatOrReply.
fn parse_lonlat(lon: &[u8], lat: &[u8]) -> Result<[f64; 2], CmdError> {
    let x = parse_f64(lon).ok_or(CmdError::NotFloat)?;
    let y = parse_f64(lat).ok_or(CmdError::NotFloat)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&x)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&y)
    {
        return Err(CmdError::Custom(format!(
            "ERR invalid longitude,latitude pair {x:.6},{y:.6}"
        )));
    }
    Ok([x, y])
}

/// extractUnitOrReply: meters per unit.
fn parse_unit(u: &[u8]) -> Result<f64, CmdError> {
    if u.eq_ignore_ascii_case(b"m") {
        Ok(1.0)
    } else if u.eq_ignore_ascii_case(b"km") {
        Ok(1000.0)
    } else if u.eq_ignore_ascii_case(b"ft") {
        Ok(0.3048)
    } else if u.eq_ignore_ascii_case(b"mi") {
        Ok(1609.34)
    } else {
        Err(CmdError::Static(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
    }
}

/// extractDistanceOrReply: (radius, conversion).
fn parse_distance(d: &[u8], unit: &[u8]) -> Result<(f64, f64), CmdError> {
    let r = parse_f64(d).ok_or(CmdError::Static("ERR need numeric radius"))?;
    if r < 0.0 {
        return Err(CmdError::Static("ERR radius cannot be negative"));
    }
    Ok((r, parse_unit(unit)?))
}

/// extractBoxOrReply: (width, height, conversion).
fn parse_box(w: &[u8], h: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), CmdError> {
    let w = parse_f64(w).ok_or(CmdError::Static("ERR need numeric width"))?;
    let h = parse_f64(h).ok_or(CmdError::Static("ERR need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(CmdError::Static("ERR height or width cannot be negative"));
    }
    Ok((w, h, parse_unit(unit)?))
}

/// addReplyDoubleDistance: `%.4f`.
fn put_distance(r: &mut Reply, d: f64) {
    r.bulk(format!("{d:.4}").as_bytes());
}

/// addReplyHumanLongDouble of a double: `%.17Lf` without trailing zeros
/// (a bulk string in RESP2, a double in RESP3).
fn put_coord(r: &mut Reply, d: f64) {
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    if r.resp3 {
        r.raw(b",");
        r.raw(s.as_bytes());
        r.raw(b"\r\n");
    } else {
        r.bulk(s.as_bytes());
    }
}

fn read_geo<'a>(srv: &'a mut Server, db: usize, key: &[u8]) -> Result<Option<&'a ZSet>, CmdError> {
    match srv.store.lookup_read(db, key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(CmdError::WrongType),
    }
}

// ---------------------------------------------------------------------------
// Commands.
// ---------------------------------------------------------------------------

fn geoadd(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let (mut xx, mut nx) = (false, false);
    let mut longidx = 2;
    while longidx < args.len() {
        let o = &args[longidx];
        if o.eq_ignore_ascii_case(b"nx") {
            nx = true;
        } else if o.eq_ignore_ascii_case(b"xx") {
            xx = true;
        } else if !o.eq_ignore_ascii_case(b"ch") {
            break;
        }
        longidx += 1;
    }
    if !(args.len() - longidx).is_multiple_of(3) || (xx && nx) {
        return Err(CmdError::Syntax);
    }
    // Rewritten as ZADD key [options] score member ... (as Redis does).
    let mut parts: Vec<Vec<u8>> = Vec::with_capacity(longidx + (args.len() - longidx) / 3 * 2);
    parts.push(b"zadd".to_vec());
    for i in 1..longidx {
        parts.push(args[i].to_vec());
    }
    let mut i = longidx;
    while i + 2 < args.len() {
        let xy = parse_lonlat(&args[i], &args[i + 1])?;
        let bits = geohash::encode_wgs84(xy[0], xy[1], geohash::STEP_MAX)
            .map(geohash::align52)
            .unwrap_or(0);
        parts.push(bits.to_string().into_bytes());
        parts.push(args[i + 2].to_vec());
        i += 3;
    }
    let owned = OwnedArgs::from_slices(&parts);
    super::zset::zadd(srv, c, &owned.as_args())
}

fn geodist(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let to_meter = match args.len() {
        5 => parse_unit(&args[4])?,
        4 => 1.0,
        _ => return Err(CmdError::Syntax),
    };
    let Some(z) = read_geo(srv, c.db, &args[1])? else {
        c.reply.null();
        return Ok(());
    };
    let (Some(s1), Some(s2)) = (z.score(&args[2]), z.score(&args[3])) else {
        c.reply.null();
        return Ok(());
    };
    match (geohash::decode_score(s1), geohash::decode_score(s2)) {
        (Some(a), Some(b)) => put_distance(
            &mut c.reply,
            geohash::distance(a[0], a[1], b[0], b[1]) / to_meter,
        ),
        _ => c.reply.null(),
    }
    Ok(())
}

fn geohash_cmd(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let z = read_geo(srv, c.db, &args[1])?;
    c.reply.array(args.len() - 2);
    for m in args.iter().skip(2) {
        let Some(xy) = z.and_then(|z| z.score(m)).and_then(geohash::decode_score) else {
            c.reply.null();
            continue;
        };
        // Re-encoded over the standard -90..90 latitude range.
        let lr = geohash::Range {
            min: -180.0,
            max: 180.0,
        };
        let ar = geohash::Range {
            min: -90.0,
            max: 90.0,
        };
        let bits = geohash::encode(lr, ar, xy[0], xy[1], 26).map_or(0, |h| h.bits);
        let mut buf = [0u8; 11];
        for (i, b) in buf.iter_mut().enumerate() {
            let idx = if i == 10 {
                0
            } else {
                ((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
            };
            *b = ALPHABET[idx];
        }
        c.reply.bulk(&buf);
    }
    Ok(())
}

fn geopos(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    let z = read_geo(srv, c.db, &args[1])?;
    c.reply.array(args.len() - 2);
    for m in args.iter().skip(2) {
        match z.and_then(|z| z.score(m)).and_then(geohash::decode_score) {
            Some(xy) => {
                c.reply.array(2);
                put_coord(&mut c.reply, xy[0]);
                put_coord(&mut c.reply, xy[1]);
            }
            None => c.reply.null_array(),
        }
    }
    Ok(())
}

const RADIUS_COORDS: u32 = 1;
const RADIUS_MEMBER: u32 = 2;
const RADIUS_NOSTORE: u32 = 4;
const GEOSEARCH: u32 = 8;
const GEOSEARCHSTORE: u32 = 16;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// One match: member, distance (meters until the unit fix), score, coords.
struct Point<'a> {
    member: &'a [u8],
    dist: f64,
    score: f64,
    xy: [f64; 2],
}

/// georadiusGeneric.
fn georadius_generic(
    srv: &mut Server,
    c: &mut Client,
    args: &Args,
    src_idx: usize,
    flags: u32,
) -> CmdResult {
    let db = c.db;
    let src = &args[src_idx];
    let exists = read_geo(srv, db, src)?.is_some();
    let mut storekey: Option<&[u8]> = None;
    let mut storedist = false;
    let mut xy = [0.0f64; 2];
    let mut conversion = 1.0;
    let mut shape = Shape::Circle { radius: 0.0 };
    let base_args;
    let member_xy = |srv: &mut Server, m: &[u8]| -> Result<[f64; 2], CmdError> {
        read_geo(srv, db, src)?
            .and_then(|z| z.score(m))
            .and_then(geohash::decode_score)
            .ok_or(CmdError::Static(
                "ERR could not decode requested zset member",
            ))
    };
    if flags & RADIUS_COORDS != 0 {
        base_args = 6;
        xy = parse_lonlat(&args[2], &args[3])?;
        let (r, conv) = parse_distance(&args[4], &args[5])?;
        shape = Shape::Circle { radius: r };
        conversion = conv;
    } else if flags & RADIUS_MEMBER != 0 && !exists {
        base_args = 5;
    } else if flags & RADIUS_MEMBER != 0 {
        base_args = 5;
        xy = member_xy(srv, &args[2])?;
        let (r, conv) = parse_distance(&args[3], &args[4])?;
        shape = Shape::Circle { radius: r };
        conversion = conv;
    } else {
        base_args = if flags & GEOSEARCHSTORE != 0 {
            storekey = Some(&args[1]);
            3
        } else {
            2
        };
    }
    let (mut withdist, mut withhash, mut withcoords) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let remaining = args.len().saturating_sub(base_args);
    let mut i = 0;
    while i < remaining {
        let a = &args[base_args + i];
        let arg = |k: usize| &args[base_args + i + k];
        if a.eq_ignore_ascii_case(b"withdist") {
            withdist = true;
        } else if a.eq_ignore_ascii_case(b"withhash") {
            withhash = true;
        } else if a.eq_ignore_ascii_case(b"withcoord") {
            withcoords = true;
        } else if a.eq_ignore_ascii_case(b"any") {
            any = true;
        } else if a.eq_ignore_ascii_case(b"asc") {
            sort = Sort::Asc;
        } else if a.eq_ignore_ascii_case(b"desc") {
            sort = Sort::Desc;
        } else if a.eq_ignore_ascii_case(b"count") && i + 1 < remaining {
            count = super::list::parse_long(arg(1))?;
            if count <= 0 {
                return Err(CmdError::Static("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist"))
            && i + 1 < remaining
            && flags & (RADIUS_NOSTORE | GEOSEARCH) == 0
        {
            storekey = Some(arg(1));
            storedist = a.eq_ignore_ascii_case(b"storedist");
            i += 1;
        } else if a.eq_ignore_ascii_case(b"storedist")
            && flags & GEOSEARCH != 0
            && flags & GEOSEARCHSTORE != 0
        {
            storedist = true;
        } else if a.eq_ignore_ascii_case(b"frommember")
            && i + 1 < remaining
            && flags & GEOSEARCH != 0
            && !fromloc
        {
            if exists {
                xy = member_xy(srv, arg(1))?;
            }
            frommember = true;
            i += 1;
        } else if a.eq_ignore_ascii_case(b"fromlonlat")
            && i + 2 < remaining
            && flags & GEOSEARCH != 0
            && !frommember
        {
            xy = parse_lonlat(arg(1), arg(2))?;
            fromloc = true;
            i += 2;
        } else if a.eq_ignore_ascii_case(b"byradius")
            && i + 2 < remaining
            && flags & GEOSEARCH != 0
            && !bybox
        {
            let (r, conv) = parse_distance(arg(1), arg(2))?;
            shape = Shape::Circle { radius: r };
            conversion = conv;
            byradius = true;
            i += 2;
        } else if a.eq_ignore_ascii_case(b"bybox")
            && i + 3 < remaining
            && flags & GEOSEARCH != 0
            && !byradius
        {
            let (w, h, conv) = parse_box(arg(1), arg(2), arg(3))?;
            shape = Shape::Box {
                width: w,
                height: h,
            };
            conversion = conv;
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if storekey.is_some() && (withdist || withhash || withcoords) {
        return Err(CmdError::Custom(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if flags & GEOSEARCHSTORE != 0 {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    let name = String::from_utf8_lossy(&args[0]).into_owned();
    if flags & GEOSEARCH != 0 && !(frommember || fromloc) {
        return Err(CmdError::Custom(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if flags & GEOSEARCH != 0 && !(byradius || bybox) {
        return Err(CmdError::Custom(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(CmdError::Static(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    if !exists {
        match storekey {
            Some(dst) => {
                srv.store.delete(db, dst);
                c.reply.int(0);
            }
            None => c.reply.array(0),
        }
        return Ok(());
    }
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let q = Query {
        xy,
        conversion,
        shape,
    };
    let area = geohash::areas_by_shape(&q);
    let limit = if any { count as usize } else { 0 };
    let Some(z) = read_geo(srv, db, src)? else {
        return Err(CmdError::WrongType);
    };
    let mut points = members_of_all_neighbors(z, &area, &q, limit);
    if points.is_empty() && storekey.is_none() {
        c.reply.array(0);
        return Ok(());
    }
    let returned = if count == 0 {
        points.len()
    } else {
        points.len().min(count as usize)
    };
    match sort {
        Sort::Asc => points.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => points.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Sort::None => {}
    }
    points.truncate(returned);
    for p in points.iter_mut() {
        p.dist /= conversion;
    }
    match storekey {
        None => {
            let options = withdist as usize + withcoords as usize + withhash as usize;
            let r = &mut c.reply;
            r.array(points.len());
            for p in &points {
                if options > 0 {
                    r.array(options + 1);
                }
                r.bulk(p.member);
                if withdist {
                    put_distance(r, p.dist);
                }
                if withhash {
                    r.int(p.score as i64);
                }
                if withcoords {
                    r.array(2);
                    put_coord(r, p.xy[0]);
                    put_coord(r, p.xy[1]);
                }
            }
        }
        Some(dst) => {
            let mut out: Vec<(Sds, f64)> = points
                .iter()
                .map(|p| (Sds::new(p.member), if storedist { p.dist } else { p.score }))
                .collect();
            let n = out.len();
            out.sort_by(|a, b| crate::store::zset::cmp_entry(a.1, &a.0, b.1, &b.0));
            if out.is_empty() {
                srv.store.delete(db, dst);
            } else {
                let lim = limits(srv);
                srv.store
                    .set(db, dst, Value::ZSet(ZSet::from_sorted(out, &lim)));
            }
            c.reply.int(n as i64);
        }
    }
    Ok(())
}

/// membersOfAllNeighbors: the center box then its neighbours, skipping
/// switched-off ones and repeats of the previous box.
fn members_of_all_neighbors<'a>(
    z: &'a ZSet,
    n: &geohash::Radius,
    q: &Query,
    limit: usize,
) -> Vec<Point<'a>> {
    let nb = &n.neighbors;
    let boxes = [
        n.hash,
        nb.north,
        nb.south,
        nb.east,
        nb.west,
        nb.north_east,
        nb.north_west,
        nb.south_east,
        nb.south_west,
    ];
    let mut out = Vec::new();
    let mut last: Option<usize> = None;
    for (i, b) in boxes.iter().enumerate() {
        if b.is_zero() {
            continue;
        }
        if let Some(l) = last
            && l != 0
            && boxes[l] == *b
        {
            continue;
        }
        if !out.is_empty() && limit > 0 && out.len() >= limit {
            break;
        }
        // Scores min (inclusive) .. max (exclusive) of the box.
        let min = geohash::align52(*b) as f64;
        let max = geohash::align52(geohash::Bits {
            bits: b.bits + 1,
            step: b.step,
        }) as f64;
        let start = z.count_while_score(|s| s < min);
        let end = z.count_while_score(|s| s < max);
        let mut stop = false;
        z.for_range(start, end, false, |m, s| {
            if stop {
                return;
            }
            if let Some((xy, d)) = geohash::within(q, s) {
                out.push(Point {
                    member: m,
                    dist: d,
                    score: s,
                    xy,
                });
            }
            if !out.is_empty() && limit > 0 && out.len() >= limit {
                stop = true;
            }
        });
        last = Some(i);
    }
    out
}

fn georadius(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    georadius_generic(srv, c, args, 1, RADIUS_COORDS)
}

fn georadius_ro(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    georadius_generic(srv, c, args, 1, RADIUS_COORDS | RADIUS_NOSTORE)
}

fn georadiusbymember(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    georadius_generic(srv, c, args, 1, RADIUS_MEMBER)
}

fn georadiusbymember_ro(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    georadius_generic(srv, c, args, 1, RADIUS_MEMBER | RADIUS_NOSTORE)
}

fn geosearch(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    georadius_generic(srv, c, args, 1, GEOSEARCH)
}

fn geosearchstore(srv: &mut Server, c: &mut Client, args: &Args) -> CmdResult {
    georadius_generic(srv, c, args, 2, GEOSEARCH | GEOSEARCHSTORE)
}
