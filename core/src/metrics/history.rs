//! A short history of the agent's totals, so a fresh status page draws its
//! chart at once instead of waiting for its own samples.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Samples kept: two minutes at one a second, what the page's chart spans.
pub const POINTS: usize = 120;

/// Totals at one moment: ms since the epoch, events put, events taken.
pub type Point = (u64, u64, u64);

/// The last [`POINTS`] samples, oldest first.
#[derive(Debug, Default)]
pub struct History(Mutex<VecDeque<Point>>);

impl History {
    /// Adds a sample, forgetting the oldest past [`POINTS`].
    pub fn push(&self, point: Point) {
        let mut points = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if points.len() == POINTS {
            points.pop_front();
        }
        points.push_back(point);
    }

    /// `{"points":[[ms,put,taken],…]}`
    pub fn to_json(&self) -> String {
        let points = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let list: Vec<String> = points.iter().map(|(t, i, o)| format!("[{t},{i},{o}]")).collect();
        format!("{{\"points\":[{}]}}", list.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_two_minutes() {
        let h = History::default();
        for t in 0..(POINTS as u64 + 5) {
            h.push((t, t * 2, t));
        }
        let json: serde_json::Value = serde_json::from_str(&h.to_json()).unwrap_or_default();
        let points = json["points"].as_array().cloned().unwrap_or_default();
        assert_eq!(points.len(), POINTS);
        assert_eq!(points[0], serde_json::json!([5, 10, 5]));
    }
}
