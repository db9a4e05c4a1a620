//! The event scanner: reads the HTLC's events block range by block range from a
//! [`ScanCursor`], and proves each range consistent before it hands the events out.
//!
//! Per step it reads the latest block number, then:
//! 1. the header of the last block scanned: if the chain no longer has it, a reorg replaced
//!    blocks already read, and the step rewinds instead (below);
//! 2. the headers of the range's first block, of its last `max_reorg_depth` blocks and of
//!    the head (one JSON-RPC batch): the first must be the child of the last block scanned,
//!    the others a chain; their hashes go into the next cursor; the head is reported with
//!    the batch (the chain's clock for deadlines, and what confirmations count to);
//! 3. the range's logs, and in the same batch the logs of its last block by hash (EIP-234):
//!    a node that has not got that block (whose logs lag its head) fails the second query
//!    instead of returning a range cut short, and the two must agree;
//! 4. every log must come from a block read in 2 (by hash; headers of blocks with logs
//!    below the tail are read too), so no event of an orphaned block gets out.
//!
//! Anything that contradicts fails the step with [`ChainError::Inconsistent`], and nothing
//! is skipped: the cursor only moves with a batch. A rewind finds the newest block whose
//! hash the cursor holds that the chain still has, and resumes after it, reporting a
//! [`Reorg`]; if the chain has none of them, the reorg is deeper than the cursor can check
//! ([`ChainError::ReorgTooDeep`]), unless they reach back to where the scan started.
//!
//! What is not proven: that the blocks between the range's first block and its tail (a range
//! longer than `max_reorg_depth`, when catching up) are a chain; they are deeper than the
//! reorgs the scanner handles, so the hash of the range's last block settles them.

use std::collections::BTreeMap;

use tracing::warn;

use crate::{
    ChainError, HtlcClient, Reorg, ScanBatch, ScanCursor,
    client::{Header, check_logs},
};

impl HtlcClient {
    /// Reads the HTLC events of one bounded block range from `cursor`: at most
    /// `max_scan_range` blocks, never past the newest block with `scan_confirmations`,
    /// checked as the module docs describe. Store the returned cursor once the batch's
    /// events are handled, then report `last_block`'s time; call again until `caught_up`,
    /// and later for new blocks. A batch with a [`Reorg`] has no events: re-evaluate what
    /// depended on events from its `first_changed_block` on, and keep scanning.
    pub async fn scan(&self, cursor: &ScanCursor) -> Result<ScanBatch, ChainError> {
        let config = self.chain.config();
        let depth = config.max_reorg_depth.max(1);
        let cursor = cursor.normalised(depth);
        let head = self.chain.block_number().await?;

        let last = match cursor.last_scanned() {
            None => None,
            Some((number, hash)) => match self.chain.headers(&[number]).await?.pop().flatten() {
                Some(header) if header.hash == hash => Some(header),
                _ => return self.rewind(&cursor, depth).await,
            },
        };

        let first = cursor.next_block();
        let newest_readable = head
            .checked_sub(config.scan_confirmations.max(1) - 1)
            .filter(|&newest| newest >= first);
        let Some(newest_readable) = newest_readable else {
            let head_header = self.read_headers(&[head], head).await?;
            return Ok(ScanBatch {
                events: Vec::new(),
                cursor,
                caught_up: true,
                last_block: last.map(|header| header.block_ref()),
                reorg: None,
                head: head_header.get(&head).map(|header| header.block_ref()),
            });
        };
        let end = newest_readable.min(first.saturating_add(config.max_scan_range.max(1) - 1));
        let tail_start = end.saturating_sub(depth - 1).max(first);

        let mut numbers: Vec<u64> = (tail_start..=end).collect();
        if tail_start > first {
            numbers.insert(0, first);
        }
        // The head too: its time is the chain's clock for timelock decisions, and lock
        // confirmations are counted against it.
        if head > end {
            numbers.push(head);
        }
        let mut headers = self.read_headers(&numbers, head).await?;
        if let Some(last) = last
            && headers[&first].parent_hash != last.hash
        {
            return Err(ChainError::Inconsistent {
                reason: format!(
                    "block {first} is not the child of block {} the scan read: the chain \
                     moved during the scan",
                    last.number()
                ),
            });
        }
        for number in tail_start + 1..=end {
            if headers[&number].parent_hash != headers[&(number - 1)].hash {
                return Err(ChainError::Inconsistent {
                    reason: format!("block {number} is not the child of block {}", number - 1),
                });
            }
        }

        let end_header = headers[&end];
        let range = self.event_filter().from_block(first).to_block(end);
        let at_end = self.event_filter().at_block_hash(end_header.hash);
        let (logs, end_logs) = self.chain.logs_with_end(&range, &at_end).await?;
        let end_logs = end_logs.map_err(|err| ChainError::Inconsistent {
            reason: format!(
                "the endpoint reports block {end} ({}) but cannot give its logs: its logs \
                 lag its blocks ({err})",
                end_header.hash
            ),
        })?;
        let mut unread: Vec<u64> = logs
            .iter()
            .filter_map(|log| log.block_number)
            .filter(|number| (first..=end).contains(number) && !headers.contains_key(number))
            .collect();
        unread.dedup();
        if !unread.is_empty() {
            headers.extend(self.read_headers(&unread, head).await?);
        }
        check_logs(&logs, &end_logs, first, end, &headers)?;

        let mut events: Vec<_> = logs.iter().filter_map(|log| self.decode_log(log)).collect();
        events.sort_by_key(|event| (event.block_number, event.log_index));
        let tail: Vec<_> = (tail_start..=end)
            .map(|number| headers[&number].hash)
            .collect();
        Ok(ScanBatch {
            events,
            cursor: cursor.advanced(end, &tail, depth),
            caught_up: end == newest_readable,
            last_block: Some(end_header.block_ref()),
            reorg: None,
            head: headers.get(&head).map(|header| header.block_ref()),
        })
    }

    /// Headers of `numbers`, all of which must exist (they are at or below `head`).
    async fn read_headers(
        &self,
        numbers: &[u64],
        head: u64,
    ) -> Result<BTreeMap<u64, Header>, ChainError> {
        let fetched = self.chain.headers(numbers).await?;
        let mut headers = BTreeMap::new();
        for (&number, header) in numbers.iter().zip(fetched) {
            match header {
                Some(header) if header.number() == number => {
                    headers.insert(number, header);
                }
                _ => {
                    return Err(ChainError::Inconsistent {
                        reason: format!("block {number} is missing though the head is {head}"),
                    });
                }
            }
        }
        Ok(headers)
    }

    /// The batch that moves `cursor` back after the chain dropped its last scanned block.
    async fn rewind(&self, cursor: &ScanCursor, depth: u64) -> Result<ScanBatch, ChainError> {
        let oldest = cursor.oldest_known();
        let last_scanned = cursor.next_block() - 1;
        let numbers: Vec<u64> = (oldest..cursor.next_block()).collect();
        let headers = self.chain.headers(&numbers).await?;
        // Hashes chain their ancestors: the blocks still on the chain are a prefix.
        let still_there = numbers
            .iter()
            .zip(cursor.recent_hashes())
            .zip(headers)
            .rev()
            .find_map(|((&number, &hash), header)| {
                header.filter(|header| header.hash == hash && header.number() == number)
            });
        let (rewound, last_block) = match still_there {
            Some(header) => (
                cursor.rewound_after(header.number()),
                Some(header.block_ref()),
            ),
            // Every block since the start changed: scan them all again.
            None if oldest == cursor.start_block() => {
                (ScanCursor::from_block(cursor.start_block()), None)
            }
            None => {
                return Err(ChainError::ReorgTooDeep {
                    oldest_checked: oldest,
                    last_scanned,
                    max_depth: depth,
                });
            }
        };
        let reorg = Reorg {
            first_changed_block: rewound.next_block(),
            previous_last_block: last_scanned,
        };
        warn!(
            chain_id = self.chain.chain_id(),
            first_changed_block = reorg.first_changed_block,
            previous_last_block = last_scanned,
            "reorg: blocks already scanned were replaced; rewinding"
        );
        Ok(ScanBatch {
            events: Vec::new(),
            cursor: rewound,
            caught_up: false,
            last_block,
            reorg: Some(reorg),
            head: None,
        })
    }
}
