// Package web is sc115's browser side: its users and their roles (agent,
// supervisor, billing, admin), signing in and out, sessions shared by all
// instances through the store, CSRF protection, and the guard that decides
// who may use which API route (acd.Guard). The pages (wallboard, agent
// console, supervisor view) build on it.
package web
