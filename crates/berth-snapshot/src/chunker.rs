//! Content-defined chunking: FastCDC 2020 with a gear table derived from the repository
//! secret, so chunk boundaries reveal nothing about the content (format section 5).

use std::io::{self, Read};

use fastcdc::v2020::{MASKS, cut_gear, logarithm2};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Chunk size bounds in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    /// Smallest chunk (except the last of a file).
    pub min: u32,
    /// Target average.
    pub avg: u32,
    /// Largest chunk.
    pub max: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        ChunkerParams {
            min: 512 * 1024,
            avg: 1024 * 1024,
            max: 8 * 1024 * 1024,
        }
    }
}

impl ChunkerParams {
    /// Checks the bounds against what FastCDC supports.
    pub fn validate(&self) -> Result<()> {
        use fastcdc::v2020::{
            AVERAGE_MAX, AVERAGE_MIN, MAXIMUM_MAX, MAXIMUM_MIN, MINIMUM_MAX, MINIMUM_MIN,
        };
        let ok = (MINIMUM_MIN..=MINIMUM_MAX).contains(&self.min)
            && (AVERAGE_MIN..=AVERAGE_MAX).contains(&self.avg)
            && (MAXIMUM_MIN..=MAXIMUM_MAX).contains(&self.max)
            && self.min < self.avg
            && self.avg < self.max;
        if ok {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "chunker sizes min={} avg={} max={} are invalid: need {MINIMUM_MIN}<=min<avg<max<={MAXIMUM_MAX}, avg<={AVERAGE_MAX}, min<={MINIMUM_MAX}",
                self.min, self.avg, self.max
            )))
        }
    }
}

/// A chunker keyed by the repository's gear key.
pub(crate) struct Chunker {
    gear: Box<[u64; 256]>,
    gear_ls: Box<[u64; 256]>,
    params: ChunkerParams,
    mask_s: u64,
    mask_l: u64,
}

impl Chunker {
    pub fn new(gear_key: &[u8; 32], params: ChunkerParams) -> Result<Chunker> {
        params.validate()?;
        let mut xof = blake3::Hasher::new_keyed(gear_key);
        xof.update(b"berth-snapshot v1 gear table");
        let mut bytes = [0u8; 2048];
        xof.finalize_xof().fill(&mut bytes);
        let mut gear = Box::new([0u64; 256]);
        let mut gear_ls = Box::new([0u64; 256]);
        for (i, c) in bytes.chunks_exact(8).enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            gear[i] = u64::from_le_bytes(w);
            gear_ls[i] = gear[i] << 1;
        }
        // Normalization level 1, as fastcdc's own constructors compute it.
        let bits = logarithm2(params.avg) as usize;
        Ok(Chunker {
            gear,
            gear_ls,
            params,
            mask_s: MASKS[bits + 1],
            mask_l: MASKS[bits - 1],
        })
    }

    /// Reads `reader` to its end and calls `emit` with each chunk in order; returns the size.
    ///
    /// `buf` is scratch space kept by the caller across calls (zero-filled once, not per file:
    /// that matters with many small files).
    pub fn chunk<R: Read>(
        &self,
        mut reader: R,
        buf: &mut Vec<u8>,
        mut emit: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<u64, ChunkError> {
        let max = self.params.max as usize;
        if buf.len() < 2 * max {
            buf.resize(2 * max, 0);
        }
        let (mut start, mut end) = (0usize, 0usize);
        let mut eof = false;
        let mut total = 0u64;
        loop {
            while !eof && end - start < max {
                if end == buf.len() {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                }
                match reader.read(&mut buf[end..]) {
                    Ok(0) => eof = true,
                    Ok(n) => end += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(ChunkError::Read(e)),
                }
            }
            if start == end {
                return Ok(total);
            }
            let avail = &buf[start..end];
            let (_, len) = cut_gear(
                avail,
                self.params.min as usize,
                self.params.avg as usize,
                max,
                self.mask_s,
                self.mask_l,
                self.mask_s << 1,
                self.mask_l << 1,
                &self.gear,
                &self.gear_ls,
            );
            emit(&avail[..len]).map_err(ChunkError::Emit)?;
            total += len as u64;
            start += len;
        }
    }
}

/// Why chunking stopped: the source failed, or the consumer did.
pub(crate) enum ChunkError {
    Read(io::Error),
    Emit(Error),
}
