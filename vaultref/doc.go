// Package vaultref is the one definition of the reference language, shared by the webhook
// (which detects and validates references at admission) and envexec (which resolves them),
// so the two can never disagree about what a reference is. It uses only the standard
// library and does no I/O.
//
// A value holds references in one of two ways:
//
//	vault:secret/data/app/db#password                      the whole value is one reference
//	postgres://app:${vault:secret/app/db#password}@db/app  references inside text
//
// Scan splits a value into literal text and references; HasRefs is its cheap pre-check.
// The grammar, with examples and what is rejected, is in docs/references.md:
//
//	ref      = read / write / login / transit
//	read     = scheme ":" path "#" key [ "#" version ] pipeline
//	write    = ">>" scheme ":" path "#" key [ "#" body ] pipeline
//	login    = scheme ":login" pipeline
//	transit  = "vault:v" 1*DIGIT ":" 1*base64char pipeline
//	scheme   = "vault" / "bao"
//	key      = name / template                ; template: text with ${.FIELD | FUNC} actions
//	pipeline = *( 1*SP "|" 1*SP func )        ; func: b64dec, b64enc, trim, json FIELD.PATH
package vaultref
