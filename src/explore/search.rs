//! Incremental search over titles, artists and albums: every word typed must appear, in any
//! field, ignoring case. Matches that start the title come first.

/// One track's searchable text, lowercased once when the library is opened.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchEntry {
    title: String,
    rest: String,
}

impl SearchEntry {
    pub fn new(title: &str, artist: &str, album: &str) -> Self {
        Self { title: title.to_lowercase(), rest: format!("{}\u{1f}{}", artist.to_lowercase(), album.to_lowercase()) }
    }

    fn score(&self, words: &[String]) -> Option<u8> {
        let all_found = words.iter().all(|w| self.title.contains(w.as_str()) || self.rest.contains(w.as_str()));
        if !all_found {
            return None;
        }
        let first = words.first()?;
        Some(if self.title.starts_with(first.as_str()) {
            0
        } else if self.title.contains(first.as_str()) {
            1
        } else {
            2
        })
    }
}

/// Indices of the entries matching `query`, best first (title prefix, then title, then artist or
/// album; ties in index order), at most `limit`. An empty query matches nothing.
pub fn search(entries: &[SearchEntry], query: &str, limit: usize) -> Vec<usize> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() || limit == 0 {
        return Vec::new();
    }
    let mut found: Vec<(u8, usize)> =
        entries.iter().enumerate().filter_map(|(i, e)| e.score(&words).map(|s| (s, i))).collect();
    found.sort_unstable();
    found.into_iter().take(limit).map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<SearchEntry> {
        vec![
            SearchEntry::new("Night Drive", "Lumen", "Roads"),
            SearchEntry::new("Drive", "Kestrel", "Night Songs"),
            SearchEntry::new("Overdrive", "Night Owls", "Live"),
            SearchEntry::new("Quiet", "Ölberg", "Schöne Grüße"),
        ]
    }

    #[test]
    fn every_word_must_match_somewhere_and_title_prefixes_rank_first() {
        let e = entries();
        assert_eq!(search(&e, "drive", 10), vec![1, 0, 2]);
        assert_eq!(search(&e, "NIGHT drive", 10), vec![0, 1, 2]);
        assert_eq!(search(&e, "drive kestrel", 10), vec![1]);
        assert_eq!(search(&e, "drive jazz", 10), Vec::<usize>::new());
        assert_eq!(search(&e, "drive", 2), vec![1, 0]);
    }

    #[test]
    fn case_is_ignored_beyond_ascii_and_empty_queries_find_nothing() {
        let e = entries();
        assert_eq!(search(&e, "ÖLBERG", 10), vec![3]);
        assert_eq!(search(&e, "grüße", 10), vec![3]);
        assert!(search(&e, "   ", 10).is_empty());
    }
}
