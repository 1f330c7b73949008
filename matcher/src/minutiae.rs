//! Minutiae: the skeleton is traced into a graph whose nodes are line ends and forks and whose edges
//! are the ridge lines between them. After filtering (see `filtering`), nodes joined to one ridge are
//! endings and nodes joined to three are bifurcations; their direction is read off the ridges that
//! leave them.

use crate::params::DIRECTION_TRACE_PX;
use crate::plane::Plane;
use crate::MinutiaKind;
use std::f32::consts::PI;

pub(crate) use crate::angles::{angle_gap, normalise};

/// A line end or fork of the skeleton.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub x: f32,
    pub y: f32,
    /// Ridges that touch this node (a ridge appears twice if both its ends are here).
    pub ridges: Vec<usize>,
    pub alive: bool,
}

/// A ridge line from node `from` to node `to`, with the pixels it passes through in order.
#[derive(Debug, Clone)]
pub(crate) struct Ridge {
    pub from: usize,
    pub to: usize,
    pub path: Vec<(u16, u16)>,
    pub alive: bool,
}

/// The skeleton as a graph.
#[derive(Debug, Clone, Default)]
pub(crate) struct SkeletonGraph {
    pub nodes: Vec<Node>,
    pub ridges: Vec<Ridge>,
}

/// `node_of` of a pixel that belongs to no node.
const NO_NODE: u32 = u32::MAX;

const NEIGHBOURS: [(isize, isize); 8] = [(0, -1), (1, 0), (0, 1), (-1, 0), (1, -1), (1, 1), (-1, 1), (-1, -1)];

/// Crossing number: how many separate line pieces touch the pixel.
fn crossing_number(skeleton: &Plane<bool>, x: usize, y: usize) -> usize {
    const RING: [(isize, isize); 8] = [(0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1)];
    let on = |k: usize| {
        skeleton
            .get(x as isize + RING[k].0, y as isize + RING[k].1)
            .unwrap_or(false)
    };
    (0..8).filter(|&k| !on(k) && on((k + 1) % 8)).count()
}

impl SkeletonGraph {
    /// Traces the skeleton into a graph; `line_pixels` are the indices of its set pixels in row
    /// order.
    pub fn trace(skeleton: &Plane<bool>, line_pixels: &[u32]) -> Self {
        let (w, h) = (skeleton.width, skeleton.height);
        // Node pixels: ends (one piece) and forks (three or more), forks merged when adjacent.
        let mut node_of = vec![NO_NODE; w * h];
        let mut graph = SkeletonGraph::default();
        let mut members: Vec<Vec<usize>> = Vec::new();
        for &start in line_pixels {
            let start = start as usize;
            if node_of[start] != NO_NODE {
                continue;
            }
            let cn = crossing_number(skeleton, start % w, start / w);
            if cn == 1 || cn >= 3 {
                let id = members.len() as u32;
                // Flood the adjacent fork pixels into the same node.
                let mut stack = vec![start];
                node_of[start] = id;
                let mut pixels = Vec::new();
                while let Some(i) = stack.pop() {
                    pixels.push(i);
                    if cn < 3 {
                        continue;
                    }
                    let (px, py) = ((i % w) as isize, (i / w) as isize);
                    for (dx, dy) in NEIGHBOURS {
                        if let Some(true) = skeleton.get(px + dx, py + dy) {
                            let j = (py + dy) as usize * w + (px + dx) as usize;
                            if node_of[j] == NO_NODE && crossing_number(skeleton, j % w, j / w) >= 3 {
                                node_of[j] = id;
                                stack.push(j);
                            }
                        }
                    }
                }
                let n = pixels.len() as f32;
                let cx = pixels.iter().map(|&i| (i % w) as f32).sum::<f32>() / n;
                let cy = pixels.iter().map(|&i| (i / w) as f32).sum::<f32>() / n;
                graph.nodes.push(Node {
                    x: cx,
                    y: cy,
                    ridges: Vec::new(),
                    alive: true,
                });
                members.push(pixels);
            }
        }
        // Trace every ridge leaving every node.
        let mut visited = vec![false; w * h];
        for (id, pixels) in members.iter().enumerate() {
            for &start in pixels {
                let (sx, sy) = ((start % w) as isize, (start / w) as isize);
                for (dx, dy) in NEIGHBOURS {
                    let Some(true) = skeleton.get(sx + dx, sy + dy) else {
                        continue;
                    };
                    let first = (sy + dy) as usize * w + (sx + dx) as usize;
                    if node_of[first] == id as u32 || visited[first] {
                        continue;
                    }
                    if node_of[first] != NO_NODE {
                        // Two nodes touching directly: a ridge of two pixels, recorded once.
                        if node_of[first] as usize > id {
                            graph.add_ridge(id, node_of[first] as usize, vec![xy(start, w), xy(first, w)]);
                        }
                        continue;
                    }
                    if let Some((end, path)) = follow(skeleton, &node_of, &mut visited, start, first, id) {
                        graph.add_ridge(id, end, path);
                    }
                }
            }
        }
        graph
    }

    /// Adds a ridge between two nodes.
    pub(crate) fn add_ridge(&mut self, from: usize, to: usize, path: Vec<(u16, u16)>) {
        let id = self.ridges.len();
        self.ridges.push(Ridge {
            from,
            to,
            path,
            alive: true,
        });
        self.nodes[from].ridges.push(id);
        self.nodes[to].ridges.push(id);
    }

    /// Alive ridges at a node.
    pub fn degree(&self, node: usize) -> usize {
        self.nodes[node].ridges.len()
    }

    /// The path of `ridge` read starting from `node` (one of its ends).
    pub fn path_from(&self, ridge: usize, node: usize) -> impl Iterator<Item = (u16, u16)> + '_ {
        let r = &self.ridges[ridge];
        let forward = r.from == node;
        let n = r.path.len();
        (0..n).map(move |i| if forward { r.path[i] } else { r.path[n - 1 - i] })
    }

    /// Direction (radians) from `node` towards the point `DIRECTION_TRACE_PX` along `ridge`.
    pub fn direction_along(&self, ridge: usize, node: usize) -> f32 {
        let n = &self.nodes[node];
        let (nx, ny) = (n.x, n.y);
        let mut target = None;
        for (x, y) in self.path_from(ridge, node) {
            target = Some((x, y));
            if (x as f32 - nx).hypot(y as f32 - ny) >= DIRECTION_TRACE_PX {
                break;
            }
        }
        let (tx, ty) = target.unwrap_or((nx as u16, ny as u16));
        (ty as f32 - ny).atan2(tx as f32 - nx)
    }

    /// The minutiae the graph now holds: (x, y, angle, kind).
    pub fn minutiae(&self) -> Vec<(f32, f32, f32, MinutiaKind)> {
        let mut out = Vec::new();
        for (id, node) in self.nodes.iter().enumerate() {
            if !node.alive {
                continue;
            }
            match *node.ridges.as_slice() {
                [r] => {
                    // An ending points out of its ridge.
                    out.push((
                        node.x,
                        node.y,
                        normalise(self.direction_along(r, id) + PI),
                        MinutiaKind::Ending,
                    ));
                }
                [a, b, c] => {
                    let d = [
                        self.direction_along(a, id),
                        self.direction_along(b, id),
                        self.direction_along(c, id),
                    ];
                    // The stem is the branch farthest in angle from the other two.
                    let stem = (0..3)
                        .max_by(|&i, &j| {
                            let si = angle_gap(d[i], d[(i + 1) % 3]).min(angle_gap(d[i], d[(i + 2) % 3]));
                            let sj = angle_gap(d[j], d[(j + 1) % 3]).min(angle_gap(d[j], d[(j + 2) % 3]));
                            si.total_cmp(&sj)
                        })
                        .unwrap_or(0);
                    out.push((node.x, node.y, normalise(d[stem]), MinutiaKind::Bifurcation));
                }
                _ => {}
            }
        }
        out
    }
}

fn xy(i: usize, w: usize) -> (u16, u16) {
    ((i % w) as u16, (i / w) as u16)
}

/// Follows a line from node pixel `start` through `first` until it meets a node; returns that node
/// and the path, or `None` if the line ends without one.
fn follow(
    skeleton: &Plane<bool>,
    node_of: &[u32],
    visited: &mut [bool],
    start: usize,
    first: usize,
    start_node: usize,
) -> Option<(usize, Vec<(u16, u16)>)> {
    let w = skeleton.width;
    let mut path = vec![xy(start, w), xy(first, w)];
    visited[first] = true;
    let (mut prev, mut current) = (start, first);
    loop {
        let (cx, cy) = ((current % w) as isize, (current / w) as isize);
        let mut next_node = None;
        let mut next_line = None;
        for (dx, dy) in NEIGHBOURS {
            let Some(true) = skeleton.get(cx + dx, cy + dy) else {
                continue;
            };
            let j = (cy + dy) as usize * w + (cx + dx) as usize;
            if j == prev {
                continue;
            }
            if node_of[j] != NO_NODE {
                // Do not turn straight back into the node we left.
                if node_of[j] as usize != start_node || path.len() > 3 {
                    next_node.get_or_insert(j);
                }
            } else if !visited[j] {
                next_line.get_or_insert(j);
            }
        }
        if let Some(j) = next_node {
            path.push(xy(j, w));
            return Some((node_of[j] as usize, path));
        }
        let j = next_line?;
        visited[j] = true;
        path.push(xy(j, w));
        prev = current;
        current = j;
    }
}
