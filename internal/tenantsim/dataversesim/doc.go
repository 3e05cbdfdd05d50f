// Package dataversesim emulates the Dataverse Web API of one environment: /api/data/v9.2/systemusers, /audits,
// /organizations and /WhoAmI, with Prefer odata.maxpagesize (at most 5,000, echoed in Preference-Applied),
// paging-cookie nextLinks, @odata.etag on items, formatted values when annotations are asked for, and the three
// service protection limits (Limits). Every fact and the page it comes from: extract/dataverse/testdata/README.md.
//
// The audit table is the model's generator: a page reads the hours its createdon range covers, and the paging
// cookie's last auditid says where the next page starts, as a real paging cookie does.
package dataversesim
