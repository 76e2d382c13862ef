//! The serde bridge from the directive map (canonical name -> normalized
//! arguments) to the typed [`Config`](super::Config): a map deserializer over
//! directive names and a per-directive deserializer that parses yes/no,
//! numbers with memory units, strings, lists, enums and options.

use std::fmt;

use serde::de::{self, IntoDeserializer};

use super::*;

// ---------------------------------------------------------------------------
// serde: directive map -> Config
// ---------------------------------------------------------------------------

#[derive(Debug)]
pub(super) struct DeError(pub(super) String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

/// Deserializes the directive map (name -> normalized args) as a map whose
/// keys are directive names; serde's derived `Config` picks its fields by
/// their kebab-case names and ignores the rest.
pub(super) struct DirectiveMap<'a> {
    pub(super) iter: std::collections::btree_map::Iter<'a, &'static str, Vec<String>>,
    pub(super) value: Option<&'a [String]>,
}

impl<'de> de::Deserializer<'de> for DirectiveMap<'_> {
    type Error = DeError;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> de::MapAccess<'de> for DirectiveMap<'_> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((name, args)) => {
                self.value = Some(args);
                let key: &str = name;
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        let args = self.value.take().unwrap_or(&[]);
        seed.deserialize(ArgsDeserializer { args })
    }
}

/// Deserializes one directive's arguments into the requested type: yes/no
/// for bools, integers with Redis memory units for numbers, the joined
/// arguments for strings, each argument for sequences, lowercased names for
/// enums, "" / no arguments as `None`.
pub(super) struct ArgsDeserializer<'a> {
    pub(super) args: &'a [String],
}

impl ArgsDeserializer<'_> {
    fn joined(&self) -> String {
        self.args.join(" ")
    }

    fn unsigned(&self) -> Result<u64, DeError> {
        let s = self.joined();
        memtoull(&s).ok_or_else(|| DeError(format!("'{s}' is not a valid unsigned number")))
    }

    fn signed(&self) -> Result<i64, DeError> {
        let s = self.joined();
        string2ll(&s)
            .or_else(|| memtoull(&s).and_then(|v| i64::try_from(v).ok()))
            .ok_or_else(|| DeError(format!("'{s}' is not a valid integer")))
    }
}

impl<'de> de::Deserializer<'de> for ArgsDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_string(self.joined())
    }

    fn deserialize_bool<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match yes_no(&self.joined()) {
            Some(b) => visitor.visit_bool(b),
            None => Err(DeError("argument must be 'yes' or 'no'".into())),
        }
    }

    fn deserialize_u8<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u64(self.unsigned()?)
    }
    fn deserialize_u16<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u64(self.unsigned()?)
    }
    fn deserialize_u32<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u64(self.unsigned()?)
    }
    fn deserialize_u64<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u64(self.unsigned()?)
    }
    fn deserialize_i8<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_i64(self.signed()?)
    }
    fn deserialize_i16<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_i64(self.signed()?)
    }
    fn deserialize_i32<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_i64(self.signed()?)
    }
    fn deserialize_i64<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_i64(self.signed()?)
    }

    fn deserialize_f32<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }
    fn deserialize_f64<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let s = self.joined();
        match string2d(&s) {
            Some(v) => visitor.visit_f64(v),
            None => Err(DeError(format!("'{s}' is not a valid number"))),
        }
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.args.iter().all(String::is_empty) {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_seq<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(de::value::SeqDeserializer::new(self.args.iter().cloned()))
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let s: de::value::StringDeserializer<DeError> =
            self.joined().to_ascii_lowercase().into_deserializer();
        visitor.visit_enum(s)
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple
        tuple_struct map struct identifier
    }
}
