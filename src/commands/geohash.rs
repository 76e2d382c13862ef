//! Redis's 52-bit geohash (geohash.c + geohash_helper.c), ported operation
//! for operation so scores, neighbours, search boxes and distances match
//! Redis to the last bit: interleaving, encode/decode over the Web-Mercator
//! latitude range (+-85.05112878), neighbour moves, the radius -> step
//! estimate, the bounding box and the haversine distance.

/// Longitude/latitude limits (EPSG:900913 / Web Mercator).
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// 26 steps = 52 bits (the score of a member).
pub const STEP_MAX: u8 = 26;

const D_R: f64 = std::f64::consts::PI / 180.0;
pub const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bits {
    pub bits: u64,
    pub step: u8,
}

impl Bits {
    /// HASHISZERO: no bits and no step (a neighbour switched off).
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    pub hash: Bits,
    pub longitude: Range,
    pub latitude: Range,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Neighbors {
    pub north: Bits,
    pub east: Bits,
    pub west: Bits,
    pub south: Bits,
    pub north_east: Bits,
    pub south_east: Bits,
    pub north_west: Bits,
    pub south_west: Bits,
}

/// The search area of a query: the center box and its neighbours.
#[derive(Clone, Copy, Debug, Default)]
pub struct Radius {
    pub hash: Bits,
    pub area: Area,
    pub neighbors: Neighbors,
}

/// A search shape: a circle (radius) or a box (width, height), with its
/// center and the unit's conversion factor to meters.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Circle { radius: f64 },
    Box { width: f64, height: f64 },
}

#[derive(Clone, Copy, Debug)]
pub struct Query {
    pub xy: [f64; 2],
    pub conversion: f64,
    pub shape: Shape,
}

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let mut x = xlo as u64;
    let mut y = ylo as u64;
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let mut x = interleaved;
    let mut y = interleaved >> 1;
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

pub fn coord_range() -> (Range, Range) {
    (
        Range {
            min: LONG_MIN,
            max: LONG_MAX,
        },
        Range {
            min: LAT_MIN,
            max: LAT_MAX,
        },
    )
}

/// geohashEncode: None when out of range.
pub fn encode(
    long_range: Range,
    lat_range: Range,
    longitude: f64,
    latitude: f64,
    step: u8,
) -> Option<Bits> {
    if step > 32 || step == 0 {
        return None;
    }
    if latitude < lat_range.min
        || latitude > lat_range.max
        || longitude < long_range.min
        || longitude > long_range.max
    {
        return None;
    }
    let mut lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (longitude - long_range.min) / (long_range.max - long_range.min);
    lat_offset *= (1u64 << step) as f64;
    long_offset *= (1u64 << step) as f64;
    // C converts the doubles to uint32_t (truncation; 2^32 wraps to 0).
    let to_u32 = |v: f64| (v as u64) as u32;
    Some(Bits {
        bits: interleave64(to_u32(lat_offset), to_u32(long_offset)),
        step,
    })
}

pub fn encode_wgs84(longitude: f64, latitude: f64, step: u8) -> Option<Bits> {
    let (lo, la) = coord_range();
    encode(lo, la, longitude, latitude, step)
}

/// geohashDecode.
pub fn decode(long_range: Range, lat_range: Range, hash: Bits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let step = hash.step as u32;
    let sep = deinterleave64(hash.bits);
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    let div = (1u64 << step) as f64;
    Some(Area {
        hash,
        latitude: Range {
            min: lat_range.min + (ilato as f64 * 1.0 / div) * lat_scale,
            max: lat_range.min + ((ilato as f64 + 1.0) * 1.0 / div) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (ilono as f64 * 1.0 / div) * long_scale,
            max: long_range.min + ((ilono as f64 + 1.0) * 1.0 / div) * long_scale,
        },
    })
}

/// geohashDecodeAreaToLongLat.
pub fn area_to_long_lat(area: &Area) -> [f64; 2] {
    let x = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let y = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    [x, y]
}

/// decodeGeohash of geo.c: a member's score -> [longitude, latitude].
pub fn decode_score(score: f64) -> Option<[f64; 2]> {
    let hash = Bits {
        bits: score as u64,
        step: STEP_MAX,
    };
    let (lo, la) = coord_range();
    decode(lo, la, hash).map(|a| area_to_long_lat(&a))
}

fn move_x(hash: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let y = hash.bits & 0x5555555555555555;
    let shift = 64 - hash.step as u32 * 2;
    let zz = 0x5555555555555555u64.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        x = x.wrapping_add(zz.wrapping_add(1));
    } else {
        x |= zz;
        x = x.wrapping_sub(zz.wrapping_add(1));
    }
    x &= 0xaaaaaaaaaaaaaaaau64.checked_shr(shift).unwrap_or(0);
    hash.bits = x | y;
}

fn move_y(hash: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = hash.bits & 0x5555555555555555;
    let shift = 64 - hash.step as u32 * 2;
    let zz = 0xaaaaaaaaaaaaaaaau64.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        y = y.wrapping_add(zz.wrapping_add(1));
    } else {
        y |= zz;
        y = y.wrapping_sub(zz.wrapping_add(1));
    }
    y &= 0x5555555555555555u64.checked_shr(shift).unwrap_or(0);
    hash.bits = x | y;
}

pub fn neighbors(hash: &Bits) -> Neighbors {
    let mv = |dx: i8, dy: i8| {
        let mut h = *hash;
        move_x(&mut h, dx);
        move_y(&mut h, dy);
        h
    };
    Neighbors {
        east: mv(1, 0),
        west: mv(-1, 0),
        south: mv(0, -1),
        north: mv(0, 1),
        north_west: mv(-1, 1),
        south_west: mv(-1, -1),
        north_east: mv(1, 1),
        south_east: mv(1, -1),
    }
}

/// geohashEstimateStepsByRadius.
pub fn estimate_steps_by_radius(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// geohashBoundingBox: [min_lon, min_lat, max_lon, max_lat].
pub fn bounding_box(q: &Query) -> [f64; 4] {
    let [longitude, latitude] = q.xy;
    let (height, width) = match q.shape {
        Shape::Circle { radius } => (q.conversion * radius, q.conversion * radius),
        Shape::Box { width, height } => (q.conversion * height / 2.0, q.conversion * width / 2.0),
    };
    let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
    let long_delta_top =
        rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude + lat_delta).cos());
    let long_delta_bottom =
        rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(latitude - lat_delta).cos());
    let southern = latitude < 0.0;
    [
        if southern {
            longitude - long_delta_bottom
        } else {
            longitude - long_delta_top
        },
        latitude - lat_delta,
        if southern {
            longitude + long_delta_bottom
        } else {
            longitude + long_delta_top
        },
        latitude + lat_delta,
    ]
}

/// geohashCalculateAreasByShapeWGS84: the center box and the neighbours
/// worth searching.
pub fn areas_by_shape(q: &Query) -> Radius {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(q);
    let [longitude, latitude] = q.xy;
    let radius_meters = match q.shape {
        Shape::Circle { radius } => radius,
        Shape::Box { width, height } => {
            ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
        }
    } * q.conversion;
    let mut steps = estimate_steps_by_radius(radius_meters, latitude);
    let (lr, ar) = coord_range();
    let mut hash = encode(lr, ar, longitude, latitude, steps).unwrap_or_default();
    let mut nb = neighbors(&hash);
    let mut area = decode(lr, ar, hash).unwrap_or_default();
    let dec = |h: Bits| decode(lr, ar, h).unwrap_or_default();
    let (north, south, east, west) = (dec(nb.north), dec(nb.south), dec(nb.east), dec(nb.west));
    let decrease = north.latitude.max < max_lat
        || south.latitude.min > min_lat
        || east.longitude.max < max_lon
        || west.longitude.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        hash = encode(lr, ar, longitude, latitude, steps).unwrap_or_default();
        nb = neighbors(&hash);
        area = decode(lr, ar, hash).unwrap_or_default();
    }
    if steps >= 2 {
        let zero = Bits::default();
        if area.latitude.min < min_lat {
            nb.south = zero;
            nb.south_west = zero;
            nb.south_east = zero;
        }
        if area.latitude.max > max_lat {
            nb.north = zero;
            nb.north_east = zero;
            nb.north_west = zero;
        }
        if area.longitude.min < min_lon {
            nb.west = zero;
            nb.south_west = zero;
            nb.north_west = zero;
        }
        if area.longitude.max > max_lon {
            nb.east = zero;
            nb.south_east = zero;
            nb.north_east = zero;
        }
    }
    Radius {
        hash,
        area,
        neighbors: nb,
    }
}

/// geohashAlign52Bits.
pub fn align52(hash: Bits) -> u64 {
    hash.bits << (52 - hash.step as u32 * 2)
}

/// Distance along a meridian.
pub fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// geohashGetDistance: haversine great circle distance in meters.
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// geoWithinShape: the decoded point and its distance from the center, if
/// it lies in the shape.
pub fn within(q: &Query, score: f64) -> Option<([f64; 2], f64)> {
    let xy = decode_score(score)?;
    match q.shape {
        Shape::Circle { radius } => {
            let d = distance(q.xy[0], q.xy[1], xy[0], xy[1]);
            (d <= radius * q.conversion).then_some((xy, d))
        }
        Shape::Box { width, height } => {
            let (w, h) = (width * q.conversion, height * q.conversion);
            if lat_distance(xy[1], q.xy[1]) > h / 2.0 {
                return None;
            }
            if distance(xy[0], xy[1], q.xy[0], xy[1]) > w / 2.0 {
                return None;
            }
            Some((xy, distance(q.xy[0], q.xy[1], xy[0], xy[1])))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (a, b) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0xFFFF_FFFF, 0x1234_5678),
            (0xdead_beef, 0),
        ] {
            let i = interleave64(a, b);
            let d = deinterleave64(i);
            assert_eq!((d as u32, (d >> 32) as u32), (a, b));
        }
    }

    #[test]
    fn palermo_score_like_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" -> score 3479099956230698
        let h = encode_wgs84(13.361389, 38.115556, STEP_MAX).unwrap();
        assert_eq!(align52(h), 3479099956230698);
        let xy = decode_score(3479099956230698.0).unwrap();
        assert!((xy[0] - 13.361389).abs() < 1e-5 && (xy[1] - 38.115556).abs() < 1e-5);
    }
}
