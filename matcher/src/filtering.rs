//! Removal of false minutiae. Noise in the skeleton shows as typical shapes, each undone on the
//! graph of ridges: spurs (a short ridge from a fork to an end), lakes (two forks joined by two
//! short ridges), bridges (a short ridge joining two forks across a valley), breaks (two ends facing
//! each other across a small gap) and fragments (a short ridge with two ends). Minutiae too close
//! to the edge of the finger, where ridges are cut off by the sensor, are dropped last, with those
//! that crowd together in a cluster, which genuine minutiae do not.

use crate::minutiae::{angle_gap, normalise, SkeletonGraph};
use crate::params::{
    BORDER_MARGIN_PX, BREAK_ANGLE_TOLERANCE_RAD, BREAK_MAX_GAP_PX, BRIDGE_MAX_LENGTH_PX, BRIDGE_MIN_ANGLE_RAD,
    CLUSTER_MAX_NEIGHBOURS, CLUSTER_RADIUS_PX, FRAGMENT_MAX_LENGTH_PX, LAKE_MAX_LENGTH_PX, SPUR_MAX_LENGTH_PX,
};
use crate::MinutiaKind;
use std::f32::consts::PI;

impl SkeletonGraph {
    fn kill_ridge(&mut self, r: usize) {
        if !self.ridges[r].alive {
            return;
        }
        self.ridges[r].alive = false;
        let (a, b) = (self.ridges[r].from, self.ridges[r].to);
        for n in [a, b] {
            if let Some(pos) = self.nodes[n].ridges.iter().position(|&x| x == r) {
                self.nodes[n].ridges.swap_remove(pos);
            }
        }
    }

    fn kill_node_if_bare(&mut self, n: usize) {
        if self.nodes[n].ridges.is_empty() {
            self.nodes[n].alive = false;
        }
    }

    fn length(&self, r: usize) -> usize {
        self.ridges[r].path.len()
    }

    fn other_end(&self, r: usize, n: usize) -> usize {
        let ridge = &self.ridges[r];
        if ridge.from == n {
            ridge.to
        } else {
            ridge.from
        }
    }

    /// Replaces a node joined to exactly two different ridges by one ridge through it.
    fn dissolve(&mut self, n: usize) {
        if !self.nodes[n].alive || self.nodes[n].ridges.len() != 2 {
            return;
        }
        let (r1, r2) = (self.nodes[n].ridges[0], self.nodes[n].ridges[1]);
        if r1 == r2 {
            return; // a closed loop through this node
        }
        self.nodes[n].alive = false;
        // Both ridges pass through the node's pixel: keep it once.
        self.join_ridges(r1, n, r2, n, 1);
    }

    /// Replaces ridge `first` (which ends at node `first_end`) and ridge `second` (which starts at
    /// node `second_start`) by one ridge running through both, leaving out the first `skip` pixels
    /// of `second`.
    fn join_ridges(&mut self, first: usize, first_end: usize, second: usize, second_start: usize, skip: usize) {
        let from = self.other_end(first, first_end);
        let to = self.other_end(second, second_start);
        let mut path: Vec<(u16, u16)> = self.path_from(first, from).collect();
        path.extend(self.path_from(second, second_start).skip(skip));
        self.kill_ridge(first);
        self.kill_ridge(second);
        self.add_ridge(from, to, path);
    }

    fn dissolve_all(&mut self) {
        for n in 0..self.nodes.len() {
            self.dissolve(n);
        }
    }

    /// Removes short ridges from a fork to a free end.
    fn remove_spurs(&mut self) {
        for r in 0..self.ridges.len() {
            if !self.ridges[r].alive || self.length(r) > SPUR_MAX_LENGTH_PX {
                continue;
            }
            let (a, b) = (self.ridges[r].from, self.ridges[r].to);
            let (da, db) = (self.degree(a), self.degree(b));
            let end = if da == 1 && db >= 3 {
                a
            } else if db == 1 && da >= 3 {
                b
            } else {
                continue;
            };
            let fork = self.other_end(r, end);
            self.kill_ridge(r);
            self.kill_node_if_bare(end);
            self.dissolve(fork);
        }
    }

    /// Removes one of two short ridges that join the same two forks (a lake or pore).
    fn remove_lakes(&mut self) {
        for n in 0..self.nodes.len() {
            if !self.nodes[n].alive {
                continue;
            }
            let ridges = self.nodes[n].ridges.clone();
            'outer: for (i, &r1) in ridges.iter().enumerate() {
                for &r2 in &ridges[i + 1..] {
                    if r1 == r2 || !self.ridges[r1].alive || !self.ridges[r2].alive {
                        continue;
                    }
                    let m = self.other_end(r1, n);
                    if m == n || self.other_end(r2, n) != m {
                        continue;
                    }
                    if self.length(r1) <= LAKE_MAX_LENGTH_PX && self.length(r2) <= LAKE_MAX_LENGTH_PX {
                        let longer = if self.length(r1) >= self.length(r2) { r1 } else { r2 };
                        self.kill_ridge(longer);
                        self.dissolve(n);
                        self.dissolve(m);
                        break 'outer;
                    }
                }
            }
        }
    }

    /// Removes short ridges between two forks that cut across the ridge flow.
    fn remove_bridges(&mut self, ridge_angle_at: &dyn Fn(f32, f32) -> f32) {
        for r in 0..self.ridges.len() {
            if !self.ridges[r].alive || self.length(r) > BRIDGE_MAX_LENGTH_PX {
                continue;
            }
            let (a, b) = (self.ridges[r].from, self.ridges[r].to);
            if a == b || self.degree(a) < 3 || self.degree(b) < 3 {
                continue;
            }
            let (na, nb) = (&self.nodes[a], &self.nodes[b]);
            let chord = (nb.y - na.y).atan2(nb.x - na.x);
            let flow = ridge_angle_at((na.x + nb.x) / 2.0, (na.y + nb.y) / 2.0);
            let off = angle_gap(chord, flow).min(angle_gap(chord, flow + PI));
            if off >= BRIDGE_MIN_ANGLE_RAD {
                self.kill_ridge(r);
                self.dissolve(a);
                self.dissolve(b);
            }
        }
    }

    /// Joins pairs of free ends that face each other across a small gap.
    fn join_breaks(&mut self) {
        let ends: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| self.nodes[n].alive && self.degree(n) == 1)
            .collect();
        let mut used = vec![false; self.nodes.len()];
        for (i, &a) in ends.iter().enumerate() {
            if used[a] {
                continue;
            }
            let ra = self.nodes[a].ridges[0];
            let dir_a = normalise(self.direction_along(ra, a) + PI);
            let mut best: Option<(usize, f32)> = None;
            for &b in &ends[i + 1..] {
                if used[b] || self.degree(b) != 1 {
                    continue;
                }
                let rb = self.nodes[b].ridges[0];
                if rb == ra {
                    continue;
                }
                let (na, nb) = (&self.nodes[a], &self.nodes[b]);
                let gap = (nb.x - na.x).hypot(nb.y - na.y);
                if gap > BREAK_MAX_GAP_PX {
                    continue;
                }
                let dir_b = normalise(self.direction_along(rb, b) + PI);
                let ab = (nb.y - na.y).atan2(nb.x - na.x);
                // Each end must point at the other, or the gap be tiny.
                let facing = angle_gap(dir_a, ab) <= BREAK_ANGLE_TOLERANCE_RAD
                    && angle_gap(dir_b, ab + PI) <= BREAK_ANGLE_TOLERANCE_RAD;
                if (facing || gap <= 3.0) && best.is_none_or(|(_, g)| gap < g) {
                    best = Some((b, gap));
                }
            }
            if let Some((b, _)) = best {
                used[a] = true;
                used[b] = true;
                let rb = self.nodes[b].ridges[0];
                self.nodes[a].alive = false;
                self.nodes[b].alive = false;
                self.join_ridges(ra, a, rb, b, 0);
            }
        }
    }

    /// Removes short ridges with two free ends.
    fn remove_fragments(&mut self) {
        for r in 0..self.ridges.len() {
            if !self.ridges[r].alive || self.length(r) > FRAGMENT_MAX_LENGTH_PX {
                continue;
            }
            let (a, b) = (self.ridges[r].from, self.ridges[r].to);
            if self.degree(a) == 1 && self.degree(b) == 1 {
                self.kill_ridge(r);
                self.kill_node_if_bare(a);
                self.kill_node_if_bare(b);
            }
        }
    }

    /// Runs every graph clean-up in turn.
    pub fn remove_false_structures(&mut self, ridge_angle_at: &dyn Fn(f32, f32) -> f32) {
        self.dissolve_all();
        for _ in 0..2 {
            self.remove_spurs();
            self.remove_lakes();
            self.remove_bridges(ridge_angle_at);
            self.join_breaks();
            self.remove_fragments();
            self.dissolve_all();
        }
    }
}

/// Drops minutiae near the edge of the finger and those crowded in clusters.
pub(crate) fn drop_border_and_clusters(
    minutiae: Vec<(f32, f32, f32, MinutiaKind)>,
    inside_finger: &dyn Fn(f32, f32) -> bool,
) -> Vec<(f32, f32, f32, MinutiaKind)> {
    let kept: Vec<_> = minutiae
        .into_iter()
        .filter(|&(x, y, _, _)| {
            (0..16).all(|k| {
                let a = k as f32 * PI / 8.0;
                inside_finger(x + BORDER_MARGIN_PX * a.cos(), y + BORDER_MARGIN_PX * a.sin())
            })
        })
        .collect();
    kept.iter()
        .filter(|&&(x, y, _, _)| {
            let crowd = kept
                .iter()
                .filter(|&&(ox, oy, _, _)| (ox - x).hypot(oy - y) <= CLUSTER_RADIUS_PX)
                .count()
                - 1;
            crowd <= CLUSTER_MAX_NEIGHBOURS
        })
        .copied()
        .collect()
}
